"""Meeting reminders as due work: the database says which were sent; each goes out once.

Only meetings that are not over are read (``Meeting.last_end``), and only their occurrences in
the next "largest offset" window are expanded. A reminder's `SentReminder` row and its outbox
row are written in the same transaction, under a unique key, so a crash or a second run can
never send it twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.commands.meeting_texts import ReminderExtra, reminder_reply
from bot.config import Config
from bot.core.durations import DurationError, parse_duration
from bot.core.reminders import LOOKBACK, Plan, reminder_plan
from bot.storage import meetings as store
from bot.storage.meetings import Meeting, OccurrenceChange, SentReminder
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


class MeetingReminders:
    name = "meeting reminders"

    def __init__(self, config: Config, extras: tuple[ReminderExtra, ...] = ()):
        self.config = config
        self.extras = extras

    def _plans(self, s: Session, now: datetime) -> list[tuple[Meeting, Room, Plan]]:
        live = (Meeting.cancelled.is_(False),
                or_(Meeting.last_end.is_(None), Meeting.last_end > now - LOOKBACK))
        rows = s.execute(select(Meeting, Room).join(Room, Room.id == Meeting.room_id)
                         .where(*live)).all()
        if not rows:
            return []
        widest = max((max(offsets_of(r.reminders), default=0) for _, r in rows), default=0)
        changes: dict[int, list[OccurrenceChange]] = defaultdict(list)
        for change in s.scalars(select(OccurrenceChange).join(Meeting).where(*live)):
            changes[change.meeting_id].append(change)
        done: dict[int, set[tuple[datetime, int]]] = defaultdict(set)
        oldest = now - LOOKBACK - timedelta(seconds=widest) - timedelta(days=2)
        for meeting_id, original, offset in s.execute(
                select(SentReminder.meeting_id, SentReminder.original, SentReminder.offset)
                .join(Meeting).where(*live, SentReminder.sent_at >= oldest)):
            done[meeting_id].add((original, offset))
        plans = []
        for meeting, room in rows:
            offsets = offsets_of(room.reminders)
            if not offsets:
                continue
            own = changes.get(meeting.id, [])
            plan = reminder_plan(
                store.series_of(meeting, own), offsets, now, scheduled_at=meeting.created_at,
                changed_at={c.original: c.changed_at for c in own if c.new_start is not None},
                done=done.get(meeting.id, ()))
            plans.append((meeting, room, plan))
        return plans

    def next_due(self, s: Session, now: datetime) -> datetime | None:
        dues = []
        for _, _, plan in self._plans(s, now):
            if plan.busy:
                return now
            if plan.next_due is not None:
                dues.append(plan.next_due)
        return min(dues, default=None)

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
            s.flush()
        return sent
