"""Sending the outbox: rooms in parallel; in each room the urgent messages first (outcomes,
poll ends, due reminders), then the others in the order they were queued.

A room has a few messages in flight at once, so that a busy homeserver stores them together
instead of one per round trip; messages queued in one transaction (a reply, the outcome it
led to, the poll's end) still go one after the other.

Rows are committed before they get here, either handed over at once by the code that wrote
them (`add`) or read back from the database after a wake-up (`wake`) and every few seconds.
A row is marked sent in the background once the homeserver has it; a row sent again after a
crash carries the same transaction id, which the homeserver de-duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

import aiohttp

from bot.core.backoff import Backoff
from bot.faults import crash_point
from bot.outgoing import SendFailed
from bot.storage import outbox as store
from bot.storage.db import Database, DatabaseUnavailable
from bot.storage.models import Outbox

log = logging.getLogger(__name__)

PAGE = 500  # rows read at once
IN_FLIGHT = 4  # messages of one room sent at once
SAFETY_READ = 5.0  # seconds between reads when nothing wakes the sender


class OutboxSender:
    def __init__(self, db: Database, send: Callable[[Outbox], Awaitable[str]],
                 clock: Callable[[], datetime], *, ready: asyncio.Event,
                 on_marked: Callable[[list[Outbox]], None] = lambda rows: None,
                 sends_at_once: int = 32):
        self.db = db
        self.send = send  # bot.matrix.sending.Sender.send: the event id, or SendFailed
        self.clock = clock
        self.ready = ready  # nio knows the rooms (and their members' devices) once it is set
        self._queues: dict[str, list[tuple[bool, int, Outbox]]] = {}
        self._workers: dict[str, asyncio.Task] = {}
        # rows queued, in flight, or sent but not yet marked: never queued a second time
        self._known: set[int] = set()
        self._unsent: set[int] = set()  # rows queued or in flight
        self._fresh: set[int] = set()  # rows queued or in flight that never failed
        self._fresh_sent = asyncio.Event()
        self._fresh_sent.set()
        self._read_up_to = 0  # every pending row up to this id has been read
        self._wake = asyncio.Event()
        self._stored = True  # rows may wait in the database that were never read
        self._senders = asyncio.Semaphore(sends_at_once)
        self._to_mark: list[tuple[Outbox, str]] = []  # sent, to be marked so in one go
        self._mark_wake = asyncio.Event()
        self._marker: asyncio.Task | None = None
        self.on_marked = on_marked  # rows marked sent, with their event ids

    # ---- in ----------------------------------------------------------------------------
    def add(self, rows: Iterable[Outbox]) -> None:
        """Committed rows, sent without reading them back."""
        for row in rows:
            self._push(row)

    async def sent(self, timeout: float) -> None:
        """Wait until every queued message is sent, at most `timeout` seconds; a message
        that failed once (and waits to be tried again) is not waited for."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._fresh_sent.wait(), timeout)

    def _not_fresh(self, row_id: int) -> None:
        self._fresh.discard(row_id)
        if not self._fresh:
            self._fresh_sent.set()

    def wake(self) -> None:
        """Rows were committed that only the database knows of."""
        self._stored = True
        self._wake.set()

    def _push(self, row: Outbox) -> None:
        if row.id in self._known:
            return
        self._known.add(row.id)
        self._unsent.add(row.id)
        self._fresh.add(row.id)
        self._fresh_sent.clear()
        heapq.heappush(self._queues.setdefault(row.room_id, []),
                       (not row.urgent, row.id, row))
        if row.room_id not in self._workers:
            self._workers[row.room_id] = asyncio.create_task(
                self._room(row.room_id), name=f"outbox {row.room_id}")

    async def run(self) -> None:
        """Read what the database holds: after each wake-up, and every few seconds all of
        it again, in case a row was committed without a wake-up."""
        await self.ready.wait()
        self._marker = asyncio.create_task(self._mark_loop(), name="outbox marker")
        while True:
            full = not self._stored
            self._stored = False
            self._wake.clear()
            after = 0 if full else self._read_up_to
            try:
                rows = await self.db.run(lambda s, a=after: store.pending(
                    s, after=a, limit=PAGE))
            except DatabaseUnavailable as exc:
                log.warning("cannot read the outbox (%s); trying again", exc)
                self._stored = True
                await asyncio.sleep(SAFETY_READ)
                continue
            if rows and not full:
                self._read_up_to = rows[-1].id
            self.add(rows)
            if len(rows) == PAGE and not full:
                self._stored = True  # more behind this page
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SAFETY_READ)

    async def close(self) -> None:
        tasks = list(self._workers.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._marker:
            self._marker.cancel()
            await asyncio.gather(self._marker, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._mark()  # what was sent last (unmarked, it would go again, de-duplicated)

    async def _mark_loop(self) -> None:
        """Mark sent rows in the background, all those sent meanwhile in one transaction,
        so that sending never waits for the database and a storm costs a few writes."""
        backoff = Backoff(base=0.5, cap=30)
        while True:
            await self._mark_wake.wait()
            self._mark_wake.clear()
            try:
                await self._mark()
                backoff.reset()
            except Exception:  # kept, and tried again
                log.exception("marking sent messages failed; trying again")
                await asyncio.sleep(backoff.next())
                self._mark_wake.set()

    async def _mark(self) -> None:
        batch, self._to_mark = self._to_mark, []
        if not batch:
            return
        try:
            await self._mark_rows(batch)
        except BaseException:
            self._to_mark[:0] = batch  # not lost: marked with the next batch
            raise

    async def _mark_rows(self, batch: list[tuple[Outbox, str]]) -> None:
        await self.db.run(lambda s: store.mark_sent(s, batch, self.clock()))
        crash_point("outbox.marked")
        for row, _ in batch:
            self._known.discard(row.id)  # no longer pending: no read returns it
        self.on_marked([row for row, _ in batch])

    # ---- out ---------------------------------------------------------------------------
    async def _room(self, room_id: str, delay: float = 0.0) -> None:
        """Send one room's queue until it is empty. After a failure the room sends nothing
        new until the failed message is through, so the room's order holds."""
        await self.ready.wait()
        await asyncio.sleep(delay)
        queue = self._queues[room_id]
        flying: dict[asyncio.Task, tuple[bool, int, Outbox]] = {}
        backoff = Backoff(base=0.5, cap=30)
        failed: set[int] = set()  # messages that failed and are not through yet
        # a send failed since a retry last went through: pause before the next try. Once a
        # retry is through the homeserver is back, and the other failed messages follow it
        # without a pause.
        pause = False

        def launch(entry: tuple[bool, int, Outbox]) -> None:
            flying[asyncio.create_task(self._guarded(entry[2]))] = entry

        try:
            while queue or flying:
                if failed and not flying:
                    if pause:
                        await asyncio.sleep(backoff.next())  # then a failed message alone
                    entry = min((e for e in queue if e[2].id in failed), default=None)
                    if entry is None:
                        failed.clear()
                    else:
                        queue.remove(entry)
                        heapq.heapify(queue)
                        launch(entry)
                room_left = IN_FLIGHT - len(flying) if not failed else 0
                while room_left and not any(_alone(e[2]) for e in flying.values()):
                    entry = self._next(queue, alone_ok=not flying)
                    if entry is None:
                        break
                    launch(entry)
                    room_left -= 1
                if not flying:  # cannot happen; never stall a room on it
                    launch(heapq.heappop(queue))
                done, _ = await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    entry = flying.pop(task)
                    if task.result():
                        self._unsent.discard(entry[2].id)
                        if entry[2].id in failed:  # a retry went through
                            failed.discard(entry[2].id)
                            backoff.reset()
                            pause = False
                    else:
                        heapq.heappush(queue, entry)
                        failed.add(entry[2].id)
                        pause = True
                    self._not_fresh(entry[2].id)
        except Exception:
            log.exception("sending to %s failed unexpectedly; starting again", room_id)
            restart = True
        else:
            restart = False
        finally:
            for task, entry in flying.items():  # sent again later: same transaction id
                task.cancel()
                heapq.heappush(queue, entry)
            # no await since the queue was last seen empty: nothing was added meanwhile
            del self._workers[room_id]
            if not queue:
                del self._queues[room_id]
        if restart and queue:
            self._workers[room_id] = asyncio.create_task(self._room(room_id, delay=1.0),
                                                         name=f"outbox {room_id}")

    def _next(self, queue: list, *, alone_ok: bool) -> tuple[bool, int, Outbox] | None:
        """The first waiting message that may go now: urgent first, then in queue order;
        never before the message it follows, and one that goes alone only when nothing else
        is on its way (and then nothing passes it)."""
        held, found = [], None
        while queue:
            entry = heapq.heappop(queue)
            if entry[2].follows in self._unsent:
                held.append(entry)
                continue
            if _alone(entry[2]) and not alone_ok:
                held.append(entry)
                break
            found = entry
            break
        for entry in held:
            heapq.heappush(queue, entry)
        return found

    async def _guarded(self, row: Outbox) -> bool:
        async with self._senders:
            return await self._send(row)

    async def _send(self, row: Outbox) -> bool:
        """True once the row is dealt with (sent, or dropped for good)."""
        try:
            event_id = await self.send(row)
        except SendFailed as exc:
            if not exc.permanent:
                log.warning("sending message %d failed (%s); retrying", row.id, exc)
                return False
            log.warning("dropping message %d to %s: %s", row.id, row.room_id, exc)
            event_id = ""
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("homeserver unreachable while sending (%s)", type(exc).__name__)
            return False
        except Exception:
            log.exception("sending message %d failed", row.id)
            return False
        if event_id:
            crash_point("outbox.handed")  # the homeserver has it; not marked sent yet
        if row.ref is not None:
            # others look it up by its event id (a poll answer names its poll's start):
            # on record before anyone can answer it
            try:
                await self._mark_rows([(row, event_id)])
                return True
            except Exception:  # noqa: BLE001 - marked with the next batch instead
                log.warning("marking message %d failed; marked later", row.id)
        self._to_mark.append((row, event_id))
        self._mark_wake.set()
        return True


def _alone(row: Outbox) -> bool:
    """Sent with nothing else of its room on the way: its room key reaches one more device,
    for that message only."""
    return row.device is not None
