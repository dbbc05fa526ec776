"""Meeting reminders at the room's offsets before every occurrence, each exactly once."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache

from bot.commands.family import ReminderExtra
from bot.commands.meetings.before_each import BeforeEachOccurrence
from bot.commands.meetings.texts import reminder_reply
from bot.config import Config
from bot.core.durations import DurationError, parse_duration
from bot.core.reminders import Reminder
from bot.outgoing import Outgoing, to_room
from bot.storage import meetings as store
from bot.storage.db import Session
from bot.storage.meetings import REMINDERS, Meeting
from bot.storage.models import Room

log = logging.getLogger(__name__)


@lru_cache(maxsize=256)
def offsets_of(setting: str) -> tuple[int, ...]:
    """A room's canonical offsets ("1w,1d,1h") in seconds."""
    out = []
    for part in filter(None, setting.split(",")):
        try:
            out.append(int(parse_duration(part).total_seconds()))
        except DurationError:
            log.warning("ignoring reminder offset %r", part)
    return tuple(sorted(set(out)))


class MeetingReminders(BeforeEachOccurrence):
    name = "meeting reminders"
    watch = REMINDERS

    def __init__(self, config: Config, extras: tuple[ReminderExtra, ...] = ()):
        self.config = config
        self.extras = extras

    def offsets(self, room: Room) -> tuple[int, ...]:
        return offsets_of(room.reminders)

    def done(self, s: Session, rows: list[tuple[Meeting, Room]],
             oldest: datetime) -> dict[int, set[tuple[datetime, int]]]:
        return store.reminders_done(s, [m.id for m, _ in rows], oldest)

    def record(self, s: Session, meeting: Meeting, room: Room, reminder: Reminder,
               now: datetime, *, late: bool, skipped: bool) -> None:
        store.record_reminder(s, meeting, reminder.occurrence.original, reminder.offset, now,
                              late=late, skipped=skipped)

    def post(self, s: Session, meeting: Meeting, room: Room, reminder: Reminder,
             late: bool) -> Outgoing:
        original = reminder.occurrence.original
        reply = reminder_reply(s, room, meeting, reminder.occurrence, late=late,
                               prefix=self.config.bot.command_prefixes[0],
                               bot_user=self.config.matrix.user_id, extras=self.extras)
        return to_room(room, reply, urgent=True,
                       key=f"reminder:M{meeting.id}:{original.isoformat()}:{reminder.offset}"
                           f":{meeting.sequence}")
