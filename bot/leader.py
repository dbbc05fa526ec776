"""Only one instance acts: the one holding the lock.

PostgreSQL: the instance lease (bot.storage.lease). A standby tries the lock every second
and takes over as soon as the active one's connection is gone (a killed process's connection
closes at once); the instances need nothing in common but the database. Once active, it
raises the lease's epoch, which fences the previous holder: every transaction of that one
fails from then on, even if it has not noticed yet that it lost the lock. The holder checks
its lock connection every few seconds and steps down if it is lost or if it was fenced.

SQLite: an exclusive file lock beside the database, so a second process refuses to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from pathlib import Path

from bot.faults import crash_point
from bot.storage.lease import Lease

log = logging.getLogger(__name__)


class LeadershipLost(Exception):
    pass


class AlreadyRunning(Exception):
    pass


class Leadership:
    def __init__(self, database_url: str, *, poll: float = 1.0, check: float = 3.0):
        self.url = database_url
        self.poll, self.check = poll, check
        # the fence every transaction of this instance checks (Database(fence=…))
        self.lease = Lease(database_url) if self.postgres else None
        self._file = None
        self.active = False

    @property
    def postgres(self) -> bool:
        return self.url.startswith("postgresql")

    async def acquire(self) -> None:
        """Return once this instance holds the lock."""
        if self.lease is None:
            self._lock_file()
            self.active = True
            crash_point("leader.acquired")
            return
        announced = False
        down_since: float | None = None
        last_said = 0.0
        while True:
            try:
                got = await asyncio.to_thread(self.lease.try_take)
                if down_since is not None:
                    log.info("database reachable again after %.0fs",
                             time.monotonic() - down_since)
                    down_since = None
                if got:
                    self.active = True
                    log.info("active: holding the instance lock (%s)", self.lease.holder)
                    crash_point("leader.acquired")
                    return
                if not announced:
                    log.info("standby: another instance is active; waiting to take over")
                    announced = True
            except Exception as exc:  # noqa: BLE001 - database down: keep waiting
                now = time.monotonic()
                if down_since is None or now - last_said > 30:
                    log.warning("waiting for the database (%s); retrying every %.0fs",
                                type(exc).__name__, self.poll)
                    last_said = now
                down_since = down_since or now
            await asyncio.sleep(self.poll)

    def take_now(self) -> None:
        """Hold the lock now, as an instance would, or raise AlreadyRunning: for a command
        that needs the bot stopped. Then `lease.fence()`, once the schema is current."""
        if self.lease is None:
            self._lock_file()
        elif not self.lease.try_take():
            raise AlreadyRunning("an instance of coordbot is active on this database")

    async def fence(self) -> None:
        """Fence the previous holder off (once the schema is current): from now on only
        this instance writes."""
        if self.lease is not None:
            epoch = await asyncio.to_thread(self.lease.fence)
            log.info("instance epoch %d: earlier holders of the lock write nothing more",
                     epoch)

    async def watch(self) -> None:
        """Raise LeadershipLost if the lock's connection dies or another instance fenced
        this one; runs while active."""
        if self.lease is None:
            await asyncio.Event().wait()  # SQLite: the file lock lasts as long as the process
        lease = self.lease
        tick, since_ping = min(0.5, self.check), 0.0
        while True:
            await asyncio.sleep(tick)
            since_ping += tick
            if lease.lost:
                self.active = False
                raise LeadershipLost("another instance took over (this one's writes are "
                                     "refused)")
            if since_ping < self.check:
                continue
            since_ping = 0.0
            try:
                await asyncio.to_thread(lease.ping)
            except Exception as exc:
                self.active = False
                raise LeadershipLost(f"lost the database connection holding the lock "
                                     f"({type(exc).__name__})") from exc

    def _lock_file(self) -> None:
        path = self.url.split("///", 1)[1] if "///" in self.url else ""
        if not path or path == ":memory:":
            return
        lock = Path(path + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        fh = open(lock, "a+")  # noqa: SIM115 - held for the life of the process
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise AlreadyRunning(f"another coordbot is running on {path}; with SQLite only one "
                                 "instance may run (use PostgreSQL for a standby)") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._file = fh

    def release(self) -> None:
        if self.lease is not None:
            self.lease.release()
        if self._file is not None:
            with contextlib.suppress(Exception):
                fcntl.flock(self._file, fcntl.LOCK_UN)
                self._file.close()
            self._file = None
        self.active = False
