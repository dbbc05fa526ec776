"""Figures for the metrics, read from the database at scrape time: the database is the truth."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import text

from bot.storage.db import Database

# name -> (help text, query)
FIGURES = {
    "coordbot_reminders_sent": ("Meeting reminders sent",
                                "SELECT COUNT(*) FROM meeting_reminders_sent WHERE NOT skipped"),
    "coordbot_reminders_late": ("Meeting reminders sent late", "SELECT COUNT(*) FROM "
                                "meeting_reminders_sent WHERE late AND NOT skipped"),
    "coordbot_open_proposals": ("Consensus proposals still open",
                                "SELECT COUNT(*) FROM proposals WHERE state = 'open'"),
    "coordbot_outbox_pending": ("Messages waiting to be sent",
                                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL"),
    "coordbot_rooms": ("Rooms set up", "SELECT COUNT(*) FROM rooms"),
}


def figures(db: Database) -> Iterator[tuple[str, str, float]]:
    """(name, help text, value) of each figure the database can give now; none while it is
    down (health says so)."""
    try:
        with db.engine.connect() as conn:
            for name, (doc, sql) in FIGURES.items():
                try:
                    value = conn.execute(text(sql)).scalar() or 0
                except Exception:  # noqa: BLE001 - a feature's table may not exist
                    conn.rollback()
                    continue
                yield name, doc, value
    except Exception:  # noqa: BLE001 - database down: /healthz says so
        return
