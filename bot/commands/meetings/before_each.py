"""Due work over meeting occurrences: something posted at fixed offsets before each one.

Each meeting carries when the clock must look at it again for this work (a `UTCDateTime`
column) and the room setting that plan was made for (so a changed setting re-plans), so the
clock reads one indexed column and expands only the meetings whose time has come, and only
their occurrences in the next "largest offset plus look-ahead" window (see
`bot.core.reminders.reminder_plan`). What was posted is recorded in the same transaction as
the outbox row, under a unique key: a crash or a second run can never post it twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.core.reminders import LOOKAHEAD, LOOKBACK, Plan, Reminder, reminder_plan
from bot.outgoing import Outgoing
from bot.storage import meetings as store
from bot.storage.db import Session
from bot.storage.meetings import Meeting, Watch
from bot.storage.models import Room

log = logging.getLogger(__name__)
BATCH = 500  # meetings planned per transaction; the rest at the next wake-up, at once


class BeforeEachOccurrence:
    name = "before each occurrence"
    watch: Watch  # where this work keeps its plan of each meeting

    # ---- what a concrete clock defines ------------------------------------------------
    def offsets(self, room: Room) -> tuple[int, ...]:
        raise NotImplementedError

    def done(self, s: Session, rows: list[tuple[Meeting, Room]],
             oldest: datetime) -> dict[int, set[tuple[datetime, int]]]:
        """(original, offset) pairs already posted or skipped, per meeting id."""
        raise NotImplementedError

    def record(self, s: Session, meeting: Meeting, room: Room, reminder: Reminder,
               now: datetime, *, late: bool, skipped: bool) -> None:
        raise NotImplementedError

    def post(self, s: Session, meeting: Meeting, room: Room, reminder: Reminder,
             late: bool) -> Outgoing:
        raise NotImplementedError

    # ---- the clock ---------------------------------------------------------------------
    def _plans(self, s: Session, now: datetime) -> list[tuple[Meeting, Room, Plan]]:
        rows = store.to_plan(s, self.watch, now, BATCH)
        if not rows:
            return []
        changes = store.changes_of(s, [m.id for m, _ in rows])
        widest = max((max(self.offsets(r), default=0) for _, r in rows), default=0)
        done = self.done(s, rows, now - LOOKBACK - timedelta(seconds=widest, days=2))
        plans = []
        for meeting, room in rows:
            own = changes[meeting.id]
            plan = reminder_plan(
                store.series_of(meeting, own), self.offsets(room), now,
                scheduled_at=meeting.created_at,
                changed_at={c.original: c.changed_at for c in own if c.new_start is not None},
                done=done.get(meeting.id, ()))
            plans.append((meeting, room, plan))
        return plans

    def next_due(self, s: Session, now: datetime) -> datetime | None:
        return store.next_look(s, self.watch, now)

    def run_due(self, s: Session, now: datetime, out: list[Outgoing]) -> int:
        sent = 0
        for meeting, room, plan in self._plans(s, now):
            for reminder in plan.skip:
                log.info("%s %ss before %s %s (%s) skipped: its time has passed", self.name,
                         reminder.offset, meeting.short_id, reminder.occurrence.original,
                         room.matrix_id)
                self.record(s, meeting, room, reminder, now, late=False, skipped=True)
            for reminder, late in plan.send:
                self.record(s, meeting, room, reminder, now, late=late, skipped=False)
                out.append(self.post(s, meeting, room, reminder, late))
                if late:
                    log.info("%s %ss before %s %s (%s) posted late, due %s", self.name,
                             reminder.offset, meeting.short_id, reminder.occurrence.original,
                             room.matrix_id, reminder.due)
                sent += 1
            store.planned(s, self.watch, meeting, room, _again(meeting, plan, now))
        return sent


def _again(meeting: Meeting, plan: Plan, now: datetime) -> datetime | None:
    """When to look at this meeting next: its next post, or when the window has moved on;
    never for a meeting that is over."""
    if meeting.last_end is not None and meeting.last_end <= now - LOOKBACK:
        return None
    return min(plan.next_due or now + LOOKAHEAD, now + LOOKAHEAD)
