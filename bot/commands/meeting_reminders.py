"""Meeting reminders as due work: the database says which were sent; each goes out once.

Each meeting carries when its reminders must be looked at again (``remind_at``, for the room's
offsets in ``remind_offsets``), so the clock reads one indexed column and expands only the
meetings whose time has come, and only their occurrences in the next "largest offset plus
look-ahead" window. A reminder's `SentReminder` row and its outbox row are written in the
same transaction, under a unique key, so a crash or a second run can never send it twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.commands.meeting_texts import ReminderExtra, reminder_reply
from bot.config import Config
from bot.core.durations import DurationError, parse_duration
from bot.core.reminders import LOOKAHEAD, LOOKBACK, Plan, reminder_plan
from bot.storage import meetings as store
from bot.storage.meetings import Meeting, SentReminder
from bot.storage.models import Room

log = logging.getLogger(__name__)
BATCH = 500  # meetings planned per transaction; the rest in the next wake-up, at once


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


class MeetingReminders:
    name = "meeting reminders"

    def __init__(self, config: Config, extras: tuple[ReminderExtra, ...] = ()):
        self.config = config
        self.extras = extras

    def _plans(self, s: Session, now: datetime) -> list[tuple[Meeting, Room, Plan]]:
        rows = s.execute(select(Meeting, Room).join(Room, Room.id == Meeting.room_id)
                         .where(*_due(now)).order_by(Meeting.remind_at).limit(BATCH)).all()
        if not rows:
            return []
        ids = [m.id for m, _ in rows]
        changes = store.changes_of(s, ids)
        done: dict[int, set[tuple[datetime, int]]] = defaultdict(set)
        widest = max((max(offsets_of(r.reminders), default=0) for _, r in rows), default=0)
        oldest = now - LOOKBACK - timedelta(seconds=widest) - timedelta(days=2)
        for meeting_id, original, offset in s.execute(
                select(SentReminder.meeting_id, SentReminder.original, SentReminder.offset)
                .where(SentReminder.meeting_id.in_(ids), SentReminder.sent_at >= oldest)):
            done[meeting_id].add((original, offset))
        plans = []
        for meeting, room in rows:
            own = changes[meeting.id]
            plan = reminder_plan(
                store.series_of(meeting, own), offsets_of(room.reminders), now,
                scheduled_at=meeting.created_at,
                changed_at={c.original: c.changed_at for c in own if c.new_start is not None},
                done=done[meeting.id])
            plans.append((meeting, room, plan))
        return plans

    def next_due(self, s: Session, now: datetime) -> datetime | None:
        if s.scalar(select(Meeting.id).join(Room, Room.id == Meeting.room_id)
                    .where(*_due(now)).limit(1)) is not None:
            return now
        return s.scalar(select(func.min(Meeting.remind_at)).where(Meeting.cancelled.is_(False)))

    def run_due(self, s: Session, now: datetime, poster) -> int:
        sent = 0
        prefix = self.config.bot.command_prefixes[0]
        for meeting, room, plan in self._plans(s, now):
            for reminder in plan.skip:
                log.info("reminder %s before %s %s (%s) skipped: the time to send it has passed",
                         reminder.offset, meeting.short_id, reminder.occurrence.original,
                         room.matrix_id)
                s.add(SentReminder(meeting_id=meeting.id, original=reminder.occurrence.original,
                                   offset=reminder.offset, sent_at=now, late=False,
                                   skipped=True))
            for reminder, late in plan.send:
                original = reminder.occurrence.original
                reply = reminder_reply(s, room, meeting, reminder.occurrence, late=late,
                                       prefix=prefix, bot_user=self.config.matrix.user_id,
                                       extras=self.extras)
                key = (f"reminder:M{meeting.id}:{original.isoformat()}:{reminder.offset}"
                       f":{meeting.sequence}")
                s.add(SentReminder(meeting_id=meeting.id, original=original,
                                   offset=reminder.offset, sent_at=now, late=late,
                                   skipped=False))
                poster.post(s, room.matrix_id, reply, room.language, key=key)
                if late:
                    log.info("reminder %s before %s %s (%s) sent late, due %s", reminder.offset,
                             meeting.short_id, original, room.matrix_id, reminder.due)
                sent += 1
            meeting.remind_offsets = room.reminders
            meeting.remind_at = _again(meeting, plan, now)
            s.flush()
        return sent


def _due(now: datetime) -> tuple:
    """Meetings whose reminders must be planned now: changed, re-timed, or due."""
    return (Meeting.cancelled.is_(False),
            or_(Meeting.remind_offsets.is_(None), Meeting.remind_offsets != Room.reminders,
                Meeting.remind_at <= now))


def _again(meeting: Meeting, plan: Plan, now: datetime) -> datetime | None:
    """When to look at this meeting next: its next reminder, or when the window has moved on;
    never for a meeting that is over."""
    if meeting.last_end is not None and meeting.last_end <= now - LOOKBACK:
        return None
    return min(plan.next_due or now + LOOKAHEAD, now + LOOKAHEAD)


def replan(meeting: Meeting) -> None:
    """A meeting changed: the clock plans its reminders again at once."""
    meeting.remind_offsets = None
