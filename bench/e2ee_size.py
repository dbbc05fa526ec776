"""How much room the bot's end-to-end encryption state takes in its database.

Per table: rows, and bytes on disk (tables with their indexes: SQLite's dbstat, PostgreSQL's
pg_total_relation_size), plus the sealed secrets.

    python bench/e2ee_size.py sqlite:////path/to/coordbot.db
"""

from __future__ import annotations

import sys

from sqlalchemy import create_engine, text

TABLES = ("e2ee_accounts", "e2ee_olm_sessions", "e2ee_megolm_sessions", "e2ee_devices",
          "e2ee_rooms", "e2ee_key_requests", "bot_secrets")


def e2ee_size(url: str) -> list[tuple[str, int, int]]:
    """(table, rows, bytes) of each table of the encryption state."""
    engine = create_engine(url)
    found = []
    with engine.connect() as conn:
        for table in TABLES:
            rows = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            if engine.dialect.name == "sqlite":
                size = conn.execute(text(
                    "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN (SELECT name "
                    "FROM sqlite_schema WHERE tbl_name = :t)"), {"t": table}).scalar()
            else:
                size = conn.execute(text("SELECT pg_total_relation_size(:t)"),
                                    {"t": table}).scalar()
            found.append((table, int(rows), int(size)))
    engine.dispose()
    return found


def report(url: str) -> str:
    sizes = e2ee_size(url)
    lines = [f"  {table:<22} {rows:>7} rows {size / 1024:>9.0f} KiB"
             for table, rows, size in sizes]
    total = sum(size for _, _, size in sizes)
    return "\n".join([*lines, f"  {'total':<22} {'':>12} {total / 1024:>9.0f} KiB"])


if __name__ == "__main__":
    print(report(sys.argv[1]))
