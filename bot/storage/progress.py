"""How far the bot got: the events it has handled (each exactly once), and small named
values such as the sync token and when retention last ran."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.storage.models import ProcessedEvent, State


def claim_event(s: Session, event_id: str, room_id: str, now: datetime) -> bool:
    """Record that this event is being handled; False when it already was. One statement
    (it runs for every event the bot reads)."""
    table = ProcessedEvent.__table__
    row = {"event_id": event_id, "room_id": room_id, "handled_at": now}
    if s.get_bind().dialect.name == "postgresql":  # no row count comes back this way here
        return s.execute(postgresql.insert(table).values(row).on_conflict_do_nothing()
                         .returning(table.c.event_id)).first() is not None
    # SQLite: RETURNING needs 3.35, the row count does not
    return s.execute(sqlite.insert(table).values(row).on_conflict_do_nothing()).rowcount == 1


def get_state(s: Session, key: str) -> str | None:
    row = s.get(State, key)
    return row.value if row else None


def set_state(s: Session, key: str, value: str) -> None:
    row = s.get(State, key)
    if row is None:
        s.add(State(key=key, value=value))
    else:
        row.value = value
