"""`coordbot audit export`: one room's decisions, votes and changes, as CSV or JSON."""

from __future__ import annotations

import csv
import json
import sys
from typing import TextIO

from bot.config import ConfigError, load_config
from bot.storage.db import Database, DatabaseError
from bot.storage.proposals import AuditEntry, audit_entries

FIELDS = ("at", "room", "proposal", "user", "service", "action", "detail")


def as_dict(e: AuditEntry) -> dict:
    return {"at": e.at.isoformat(), "room": e.room, "proposal": e.proposal, "user": e.user_id,
            "service": e.service, "action": e.action, "detail": e.detail or {}}


def write(entries: list[AuditEntry], fmt: str, out: TextIO) -> None:
    rows = [as_dict(e) for e in entries]
    if fmt == "json":
        json.dump(rows, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "detail": json.dumps(row["detail"], ensure_ascii=False,
                                                     sort_keys=True)})


def export_command(config_path: str, room: str, fmt: str, out: TextIO = sys.stdout) -> int:
    """Exit status: 0 written (also when empty), 2 bad configuration or database."""
    try:
        config = load_config(config_path)
    except ConfigError as err:
        print(f"{config_path}: {len(err.problems)} problem(s)", file=sys.stderr)
        for p in err.problems:
            print(f"  - {p}", file=sys.stderr)
        return 2
    db = Database(config.storage.database, retries=0)
    try:
        entries = db.call(lambda s: audit_entries(s, room))
    except DatabaseError as exc:
        print(f"cannot read the audit trail: {exc.orig or exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    if not entries:
        print(f"no audit entries for {room}", file=sys.stderr)
    write(entries, fmt, out)
    return 0
