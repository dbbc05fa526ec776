"""The clock: APScheduler wakes the bot; the database says what is due.

Each family contributes `DueWork`: `next_due` reads from the database when its next piece
of work falls due, and `run_due` does every piece that is due, in one transaction, recording
what it did (so it is done exactly once, also across crashes) and saying what to send; those
messages are queued in the outbox in that same transaction. A restart rebuilds the single
wake-up job from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.faults import crash_point
from bot.outgoing import Outgoing
from bot.storage.db import Database, Session

log = logging.getLogger(__name__)
SAFETY_INTERVAL = 30  # seconds: a wake-up even if an earlier one was missed
POKE_GAP = 0.25  # seconds between two rounds that commands asked for


class DueWork(Protocol):
    name: str

    def next_due(self, s: Session, now: datetime) -> datetime | None: ...

    def run_due(self, s: Session, now: datetime, out: list[Outgoing]) -> int:
        """Do what is due; add what to say to `out`; how many pieces of work were done."""


# Writes messages to the outbox in the caller's transaction (bot.storage.outbox.queue, with
# the configured delivery rule); returns the rows.
Queue = Callable[[Session, Iterable[Outgoing], datetime], list[Any]]


async def _wake(scheduler: Scheduler) -> None:
    """The one job: module-level, as APScheduler 3 wants."""
    await scheduler.tick()


class Scheduler:
    def __init__(self, db: Database, works: Sequence[DueWork], queue: Queue,
                 queued: Callable[[list[Any]], None],
                 clock: Callable[[], datetime] | None = None,
                 ready: Callable[[], bool] = lambda: True,
                 read_up_to: Callable[[], datetime] | None = None,
                 plan: Callable[[datetime | None, bool], None] = lambda due, settled: None):
        self.db = db
        # Due work waits while the homeserver is out of reach: what falls due meanwhile is
        # done once it is back, and marked late, rather than queued as if sent on time.
        self.ready = ready
        self.works = list(works)
        self.queue = queue
        self.queued = queued  # committed rows, for the outbox sender
        self.clock = clock or (lambda: datetime.now(UTC))
        # Due work acts on no later time than the intake has read up to (a deadline must
        # not pass over a vote cast before it but not read yet); `plan` says when the clock
        # next has work (False: it is about to plan again), so that the intake has read up
        # to it by then.
        self.read_up_to = read_up_to or self.clock
        self.plan = plan
        self._planned: datetime | None = None
        # Ticks run one at a time under the lock; a wake-up that falls while one is running
        # (even the job re-planned by that tick) must wait for it, not be dropped.
        self._aps = AsyncIOScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "misfire_grace_time": 3600, "max_instances": 3})
        self._lock = asyncio.Lock()
        self._again = False
        self._last_round = -POKE_GAP
        self._stopping = False

    def start(self) -> None:
        """Start after login; catches up at once with whatever fell due while down."""
        self._aps.add_job(_wake, IntervalTrigger(seconds=SAFETY_INTERVAL), args=[self],
                          id="safety", replace_existing=True)
        self._aps.start()
        self.poke()

    async def shutdown(self, grace: float = 5.0) -> None:
        """Stop waking up. A round in progress first finishes the work it is on (one
        transaction), so that a normal stop never interrupts it."""
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace), self._lock:
                pass
        if self._aps.running:
            self._aps.shutdown(wait=False)  # cancels what still runs

    def poke(self) -> None:
        """Something changed (a meeting added, a vote cast): recompute soon. A burst of
        commands costs a round every POKE_GAP, not one each (rounds share the database
        with the commands)."""
        if self._stopping:
            return
        self.plan(self._planned, False)
        if self._lock.locked():
            self._again = True  # another round once this one is over
            return
        wait = max(0.0, self._last_round + POKE_GAP - time.monotonic())
        self._aps.add_job(_wake, DateTrigger(self.clock() + timedelta(seconds=wait)),
                          args=[self], id="now", replace_existing=True)

    async def tick(self) -> None:
        if self._stopping:
            return
        if not self.ready():
            log.debug("homeserver out of reach: due work waits")
            return
        if self._lock.locked():
            # a wake-up while a round runs is not lost: another round follows it
            self._again = True
            return
        async with self._lock:
            self._again = False
            await self._round()
            self._last_round = time.monotonic()
        if self._again:
            self._again = False
            self.poke()

    async def _round(self) -> None:
        dues: list[datetime] = []
        for work in self.works:
            if self._stopping:
                return
            try:
                done, due, rows = await self.db.run(lambda s, w=work: self._step(s, w))
            except Exception:
                log.exception("due work %s failed; retried at the next wake-up", work.name)
                continue
            if due is not None:
                dues.append(due)
            if done:
                crash_point("due.committed")
                log.info("%s: %d item(s) done", work.name, done)
            if rows:
                self.queued(rows)
        due = self._planned = min(dues, default=None)
        if not self._again:
            self.plan(due, True)
        if due is not None and (due <= self._now() or due > self.clock()):
            # due now (more than one round could do) or later; due by the clock but past
            # what the intake has read: the intake pokes the clock once it has
            when = max(due, self.clock() + timedelta(milliseconds=5))
            self._aps.add_job(_wake, DateTrigger(when), args=[self], id="next",
                              replace_existing=True)

    def _now(self) -> datetime:
        """The clock, but not past what the intake has read."""
        return min(self.clock(), self.read_up_to())

    def _step(self, s: Session, work: DueWork) -> tuple[int, datetime | None, list[Any]]:
        """Run `work` only if something of it is due (a wake-up is cheap), queue what it
        said, then say when it is next due."""
        now = self._now()
        due = work.next_due(s, now)
        done, rows = 0, []
        if due is not None and due <= now:
            out: list[Outgoing] = []
            done = work.run_due(s, now, out)
            rows = self.queue(s, out, now)
            if done:
                crash_point("due.recorded")
            due = work.next_due(s, now)
        return done, due, rows
