"""Sending the outbox: rooms in parallel; in each room the urgent messages first (outcomes,
poll ends, due reminders), then the others in the order they were queued.

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

from bot.matrix.transport import Backoff, SendFailed
from bot.storage import repo
from bot.storage.db import Database
from bot.storage.models import Outbox

log = logging.getLogger(__name__)

PAGE = 500  # rows read at once
SAFETY_READ = 5.0  # seconds between reads when nothing wakes the sender


class OutboxSender:
    def __init__(self, db: Database, send: Callable[[Outbox], Awaitable[str]],
                 clock: Callable[[], datetime], *, ready: asyncio.Event,
                 rooms_at_once: int = 16):
        self.db = db
        self.send = send
        self.clock = clock
        self.ready = ready  # nio knows the rooms (and their members' devices) once it is set
        self._queues: dict[str, list[tuple[bool, int, Outbox]]] = {}
        self._workers: dict[str, asyncio.Task] = {}
        # rows queued, in flight, or sent but not yet marked: never queued a second time
        self._known: set[int] = set()
        self._read_up_to = 0  # every pending row up to this id has been read
        self._wake = asyncio.Event()
        self._stored = True  # rows may wait in the database that were never read
        self._senders = asyncio.Semaphore(rooms_at_once)
        self._marking: set[asyncio.Future] = set()

    # ---- in ----------------------------------------------------------------------------
    def add(self, rows: Iterable[Outbox]) -> None:
        """Committed rows, sent without reading them back."""
        for row in rows:
            self._push(row)

    def wake(self) -> None:
        """Rows were committed that only the database knows of."""
        self._stored = True
        self._wake.set()

    def _push(self, row: Outbox) -> None:
        if row.id in self._known:
            return
        self._known.add(row.id)
        heapq.heappush(self._queues.setdefault(row.room_id, []),
                       (not row.urgent, row.id, row))
        if row.room_id not in self._workers:
            self._workers[row.room_id] = asyncio.create_task(
                self._room(row.room_id), name=f"outbox {row.room_id}")

    async def run(self) -> None:
        """Read what the database holds: after each wake-up, and every few seconds all of
        it again, in case a row was committed without a wake-up."""
        await self.ready.wait()
        while True:
            full = not self._stored
            self._stored = False
            self._wake.clear()
            after = 0 if full else self._read_up_to
            rows = await self.db.run(lambda s, a=after: repo.pending_outbox(s, after=a,
                                                                            limit=PAGE))
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
        await asyncio.gather(*self._marking, return_exceptions=True)

    # ---- out ---------------------------------------------------------------------------
    async def _room(self, room_id: str) -> None:
        """Send one room's queue until it is empty; a failed row is retried before the
        rest, so the room's order holds."""
        await self.ready.wait()
        queue = self._queues[room_id]
        backoff = Backoff(base=0.5, cap=30)
        try:
            while queue:
                entry = heapq.heappop(queue)
                async with self._senders:
                    done = await self._send(entry[2])
                if done:
                    backoff.reset()
                else:
                    heapq.heappush(queue, entry)
                    await asyncio.sleep(backoff.next())
        finally:
            # no await since the queue was last seen empty: nothing was added meanwhile
            del self._workers[room_id]
            if not queue:
                del self._queues[room_id]

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
        # marked in the background, so the next send need not wait for the database
        marking = asyncio.ensure_future(self.db.run(
            lambda s, r=row.id, e=event_id: repo.mark_sent(s, r, e, self.clock())))
        self._marking.add(marking)

        def marked(f: asyncio.Future, row_id: int = row.id) -> None:
            self._marking.discard(f)
            if not f.cancelled() and f.exception() is None:
                self._known.discard(row_id)  # no longer pending: no read returns it

        marking.add_done_callback(marked)
        return True
