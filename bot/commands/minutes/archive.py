"""`coordbot minutes --room ROOM_ID --meeting M3 [--date YYYY-MM-DD]`: the same document as
`!minutes`, written to a file for the secretary's archive, without going through the room."""

from __future__ import annotations

import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from bot.commands.framework import UserError
from bot.commands.meetings.attendance import held_occurrence
from bot.commands.minutes.commands import document, minutes_of
from bot.config import Config
from bot.i18n import render
from bot.reply import Attachment
from bot.storage import rooms
from bot.storage.db import Database, Session
from bot.storage.meetings import get_meeting


class Refused(Exception):
    """Said on standard error; nothing is written."""


def _document(s: Session, room_id: str, meeting: str, on: date | None,
              now: datetime) -> Attachment:
    room = rooms.get_room(s, room_id)
    if room is None:
        raise Refused(f"no room {room_id} is set up with the bot")
    found = re.fullmatch(r"[Mm]?(\d{1,9})", meeting.strip())
    row = get_meeting(s, room, int(found.group(1))) if found else None
    if row is None:
        raise Refused(f"there is no meeting {meeting} in {room_id}")
    try:
        occ = held_occurrence(s, row, now, on)
        return document(minutes_of(s, room, row, occ, now), room.language)
    except UserError as err:
        raise Refused(render(err.message, "en", as_html=False)) from None


def archive(config: Config, room_id: str, meeting: str, on: str | None, output: str | None,
            *, now: datetime | None = None, err: TextIO | None = None) -> int:
    """Exit status: 0 written, 2 refused (saying why on `err`, by default standard error)."""
    err = err or sys.stderr
    try:
        day = date.fromisoformat(on) if on else None
    except ValueError:
        print(f"{on} is not a date: write YYYY-MM-DD", file=err)
        return 2
    db = Database(config.storage.database, retries=0)
    try:
        db.migrate()
        doc = db.call(lambda s: _document(s, room_id, meeting, day, now or datetime.now(UTC)))
    except Refused as refused:
        print(f"{refused}; nothing written", file=err)
        return 2
    finally:
        db.close()
    path = Path(output or doc.filename)
    path.write_bytes(doc.data)
    print(f"minutes written to {path}", file=err)
    return 0
