"""Meeting reminders at the room's offsets before every occurrence, each exactly once."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.commands.family import ReminderExtra
from bot.commands.meetings.before_each import BeforeEachOccurrence
from bot.commands.meetings.texts import reminder_reply
from bot.config import Config
from bot.core.durations import DurationError, parse_duration
from bot.core.reminders import Reminder
from bot.outgoing import Outgoing, to_room
from bot.storage.meetings import Meeting, SentReminder
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
    columns = (Meeting.remind_at, Meeting.remind_offsets, Room.reminders)

    def __init__(self, config: Config, extras: tuple[ReminderExtra, ...] = ()):
        self.config = config
        self.extras = extras

    def offsets(self, room: Room) -> tuple[int, ...]:
        return offsets_of(room.reminders)

    def done(self, s: Session, rows: list[tuple[Meeting, Room]],
             oldest: datetime) -> dict[int, set[tuple[datetime, int]]]:
        out: dict[int, set[tuple[datetime, int]]] = defaultdict(set)
        for meeting_id, original, offset in s.execute(
                select(SentReminder.meeting_id, SentReminder.original, SentReminder.offset)
                .where(SentReminder.meeting_id.in_([m.id for m, _ in rows]),
                       SentReminder.sent_at >= oldest)):
            out[meeting_id].add((original, offset))
        return out

    def record(self, s: Session, meeting: Meeting, room: Room, reminder: Reminder,
               now: datetime, *, late: bool, skipped: bool) -> None:
        s.add(SentReminder(meeting_id=meeting.id, original=reminder.occurrence.original,
                           offset=reminder.offset, sent_at=now, late=late, skipped=skipped))

    def post(self, s: Session, meeting: Meeting, room: Room, reminder: Reminder,
             late: bool) -> Outgoing:
        original = reminder.occurrence.original
        reply = reminder_reply(s, room, meeting, reminder.occurrence, late=late,
                               prefix=self.config.bot.command_prefixes[0],
                               bot_user=self.config.matrix.user_id, extras=self.extras)
        return to_room(room, reply, urgent=True,
                       key=f"reminder:M{meeting.id}:{original.isoformat()}:{reminder.offset}"
                           f":{meeting.sequence}")
