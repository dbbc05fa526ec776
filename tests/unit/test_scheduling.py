"""The clock: a wake-up that falls while a tick is running is not lost."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from bot.scheduling import Scheduler
from bot.storage.db import Database


def NOTHING(s, out, now):  # noqa: N802 - reads as the constant it stands for
    """A queue for due work that says nothing."""
    return []


class Items:
    """Work due at given instants; each run takes a while, like a busy database."""

    name = "items"

    def __init__(self, dues: list[datetime]):
        self.pending = sorted(dues)
        self.done: list[tuple[datetime, datetime]] = []

    def next_due(self, s, now):
        return self.pending[0] if self.pending else None

    def run_due(self, s, now, out):
        time.sleep(0.08)
        due = [d for d in self.pending if d <= now]
        self.pending = [d for d in self.pending if d > now]
        self.done += [(d, now) for d in due]
        return len(due)


async def test_wake_ups_during_a_tick_are_kept(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/clock.db")
    start = datetime.now(UTC) + timedelta(milliseconds=200)
    work = Items([start + timedelta(milliseconds=30 * n) for n in range(10)])
    scheduler = Scheduler(db, [work], queue=NOTHING, queued=print)
    scheduler.start()

    async def busy_loop() -> None:  # other work (sync, sending) holds the event loop
        while True:
            time.sleep(0.004)
            await asyncio.sleep(0)

    busy = asyncio.create_task(busy_loop())
    try:
        for _ in range(100):
            if not work.pending:
                break
            await asyncio.sleep(0.05)
    finally:
        busy.cancel()
        await scheduler.shutdown()
        db.close()
    assert not work.pending
    assert max(ran - due for due, ran in work.done) < timedelta(seconds=1)


async def test_a_burst_of_commands_costs_a_few_rounds_not_one_each(tmp_path):
    from bot.scheduling import POKE_GAP

    db = Database(f"sqlite:///{tmp_path}/clock.db")

    class Counting:
        name = "counting"
        looks = 0

        def next_due(self, s, now):
            self.looks += 1
            return None

    work = Counting()
    scheduler = Scheduler(db, [work], queue=NOTHING, queued=print)
    scheduler.start()
    try:
        await asyncio.sleep(0.1)
        before = work.looks
        began = time.monotonic()
        for _ in range(100):  # a vote storm: a poke every 5 ms for half a second
            scheduler.poke()
            await asyncio.sleep(0.005)
        lasted = time.monotonic() - began
        await asyncio.sleep(2 * POKE_GAP)
        rounds = work.looks - before
    finally:
        await scheduler.shutdown()
        db.close()
    assert 1 <= rounds <= lasted / POKE_GAP + 2


def test_only_commands_that_change_something_wake_the_clock(any_db_chat):
    """A read (a listing, help) leaves the clock alone; an addition or a vote wakes it."""
    coord = "@coord:example.org"
    chat = any_db_chat
    chat.setup()
    chat.send(coord, "!meeting add 2026-12-03 14:00 Monthly TFL")
    assert chat.last.changed
    for read in ("!meeting list", "!help", "!room info", "!meeting M9"):
        chat.send(coord, read)
        assert not chat.last.changed, read
    chat.send(coord, "!meeting cancel M1")
    assert chat.last.changed


async def test_stopping_lets_the_work_in_progress_finish_and_logs_no_error(tmp_path, caplog):
    db = Database(f"sqlite:///{tmp_path}/clock.db")

    class Slow(Items):
        def run_due(self, s, now, out):
            time.sleep(0.3)
            return super().run_due(s, now, out)

    first = Slow([datetime.now(UTC)])
    second = Items([datetime.now(UTC)])
    scheduler = Scheduler(db, [first, second], queue=NOTHING, queued=print)
    scheduler.start()
    try:
        for _ in range(100):
            await asyncio.sleep(0.01)
            if scheduler._lock.locked():
                break
        await scheduler.shutdown()
        assert first.done and not first.pending  # finished, not cut off
        assert second.pending  # not started once stopping: done at the next start
        scheduler.poke()  # no effect once stopped
        await asyncio.sleep(0.1)
        assert second.pending
    finally:
        db.close()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_due_work_waits_until_the_intake_has_read_up_to_its_time(tmp_path):
    """A deadline does not pass over what the bot has not read yet (a vote cast before it):
    the clock acts on no later time than the intake has read up to, tells when it has work
    next, and acts once the intake is past it and pokes it."""
    db = Database(f"sqlite:///{tmp_path}/clock.db")
    due = datetime.now(UTC) + timedelta(milliseconds=100)
    work = Items([due])
    read = [due - timedelta(seconds=5)]  # the intake is behind (the bot was stalled)
    plans: list[tuple[datetime | None, bool]] = []
    scheduler = Scheduler(db, [work], queue=NOTHING, queued=print,
                          read_up_to=lambda: read[0],
                          plan=lambda when, settled: plans.append((when, settled)))
    scheduler.start()
    try:
        await asyncio.sleep(0.5)  # due by the clock, not by what was read
        assert work.pending == [due]
        assert plans[-1] == (due, True)  # the sync returns by then
        read[0] = due + timedelta(milliseconds=1)  # the intake caught up, and says so
        scheduler.poke()
        assert plans[-1] == (due, False)  # about to plan again: the sync comes back soon
        for _ in range(100):
            if not work.pending:
                break
            await asyncio.sleep(0.02)
    finally:
        await scheduler.shutdown()
        db.close()
    assert work.done and work.done[0][1] <= read[0]  # done as of what was read
    assert plans[-1] == (None, True)
