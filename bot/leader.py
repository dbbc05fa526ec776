"""Only one instance acts: the one holding the lock.

PostgreSQL: a session-level advisory lock on a dedicated connection. A standby instance
tries it every second and takes over as soon as the active one's connection is gone (a killed
process's connection closes at once). The holder checks its connection every few seconds and
stops acting if it is lost, since the lock may then be someone else's.

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

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)
LOCK_KEY = 0x636F6F7264626F74  # "coordbot"


class LeadershipLost(Exception):
    pass


class AlreadyRunning(Exception):
    pass


def _try_lock(conn: Connection) -> bool:
    return bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar())


class Leadership:
    def __init__(self, database_url: str, *, poll: float = 1.0, check: float = 3.0):
        self.url = database_url
        self.poll, self.check = poll, check
        self._conn: Connection | None = None
        self._file = None
        self.active = False

    @property
    def postgres(self) -> bool:
        return self.url.startswith("postgresql")

    async def acquire(self) -> None:
        """Return once this instance is the active one."""
        if not self.postgres:
            self._lock_file()
            self.active = True
            return
        engine = create_engine(self.url, pool_size=1, max_overflow=0)
        announced = False
        down_since: float | None = None
        last_said = 0.0
        while True:
            try:
                conn = await asyncio.to_thread(engine.connect)
                got = await asyncio.to_thread(_try_lock, conn)
                if down_since is not None:
                    log.info("database reachable again after %.0fs",
                             time.monotonic() - down_since)
                    down_since = None
                if got:
                    await asyncio.to_thread(conn.commit)
                    self._conn = conn
                    self.active = True
                    log.info("active: holding the instance lock")
                    return
                await asyncio.to_thread(conn.close)
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

    async def watch(self) -> None:
        """Raise LeadershipLost if the lock's connection dies; runs while active."""
        if self._conn is None:
            await asyncio.Event().wait()  # SQLite: the file lock lasts as long as the process
        while True:
            await asyncio.sleep(self.check)
            try:
                await asyncio.to_thread(
                    lambda: self._conn.execute(text("SELECT 1")).scalar())
                await asyncio.to_thread(self._conn.commit)
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
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                self._conn.close()
            self._conn = None
        if self._file is not None:
            with contextlib.suppress(Exception):
                fcntl.flock(self._file, fcntl.LOCK_UN)
                self._file.close()
            self._file = None
        self.active = False
