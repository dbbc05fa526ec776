"""Which instance acts, and a fence so that one that lost the lock writes nothing more.

Election: a session-level PostgreSQL advisory lock, held by a dedicated connection. The
holder's connection closing (a killed process) frees it at once for a standby.

Fencing: a lock alone does not stop an instance that lost it without noticing yet (its
connection was cut, or the process was frozen and woke up later) from writing with its other
connections. So each instance that becomes active raises an epoch in `instance_lease`, and
every transaction it runs afterwards first checks that the epoch is still its own, and gives
up otherwise. A second advisory lock orders the two: each transaction holds it shared until
it ends, and the raise takes it exclusively, so the new holder's raise waits for the old
holder's running transactions to end, and every later transaction of the old holder sees the
new epoch and writes nothing.

Why not ask `pg_locks` whether our lock connection still holds the lock: that would leave a
window between the check and the commit. Why not read the epoch row `FOR SHARE`: a row lock
gives even a read-only transaction a transaction id, a WAL record and a flush at commit; an
advisory lock lives in memory only.
"""

from __future__ import annotations

import contextlib
import os
import socket
from datetime import UTC, datetime

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.storage.db import DatabaseUnavailable

LOCK_KEY = 0x636F6F7264626F74  # "coordbot": the key of every version, in the default schema
LEASE = 1  # the one row of instance_lease


class Fenced(DatabaseUnavailable):
    """Another instance became active: this one may not write any more. To its callers,
    a database they cannot use (the instance steps down meanwhile)."""


def lock_keys(conn: Connection) -> tuple[int, int]:
    """The advisory locks' keys (instance lock, fence): per schema, so that databases
    sharing a server (tests run in parallel, one schema each) do not take each other's."""
    schema = conn.execute(text("SELECT current_schema()")).scalar()
    if schema in (None, "public"):
        return LOCK_KEY, LOCK_KEY + 1
    keys = conn.execute(text("SELECT hashtextextended(:s, 0), hashtextextended(:f, 0)"),
                        {"s": f"coordbot:{schema}", "f": f"coordbot fence:{schema}"}).one()
    return int(keys[0]), int(keys[1])


class Lease:
    """The instance lock and its fence, for PostgreSQL. Blocking calls: run them off the
    event loop. `check` is called by bot.storage.db.Database at the start of each
    transaction."""

    def __init__(self, database_url: str):
        self.holder = f"{socket.gethostname()} pid {os.getpid()}"
        # named, so that an operator sees which connection holds the lock
        self.engine = create_engine(database_url, pool_size=1, max_overflow=0,
                                    connect_args={"application_name": self.connection_name})
        self._conn: Connection | None = None
        self._keys = (LOCK_KEY, LOCK_KEY + 1)
        self.epoch: int | None = None  # set while this instance is the active one
        self.lost = False  # this instance was active and may no longer write

    @property
    def connection_name(self) -> str:
        return f"coordbot lock {self.holder}"[:63]

    def try_take(self) -> bool:
        """Take the lock if it is free; True when this instance holds it now."""
        conn = self.engine.connect()
        try:
            self._keys = lock_keys(conn)
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                    {"k": self._keys[0]}).scalar())
            conn.commit()
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def backend(self) -> int | None:
        """The server process of the connection holding the lock (for logs and tests)."""
        if self._conn is None:
            return None
        return int(self._conn.execute(text("SELECT pg_backend_pid()")).scalar())

    def fence(self) -> int:
        """Raise the epoch (once the lock is held and the schema is current): from now on
        the previous holder's transactions write nothing. Returns the new epoch."""
        conn = self._conn
        assert conn is not None, "fence() without the lock"
        fence = {"f": self._keys[1]}
        conn.execute(text("SELECT pg_advisory_lock(:f)"), fence)  # their transactions end
        try:
            epoch = _raise_epoch(conn, self.holder)
            conn.commit()
        except Exception:
            conn.rollback()
            raise
        finally:
            with contextlib.suppress(Exception):
                conn.execute(text("SELECT pg_advisory_unlock(:f)"), fence)
                conn.commit()
        self.epoch, self.lost = int(epoch), False
        return self.epoch

    def fence_in(self, s: Session) -> None:
        """`fence`, as the first step of the transaction `s`: undone with it if it fails (a
        command that changes all or nothing while the bot is stopped)."""
        assert self._conn is not None, "fence_in() without the lock"
        s.execute(text("SELECT pg_advisory_xact_lock(:f)"), {"f": self._keys[1]})
        _raise_epoch(s, self.holder)

    def check(self, s: Session) -> None:
        """Refuse the transaction unless this instance's epoch is still the current one;
        the fence is held (shared) until the transaction ends."""
        if self.epoch is None:
            return  # not acting (a standby): it only reads
        if self.lost:
            raise Fenced("another instance took over; this one writes nothing more")
        s.execute(text("SELECT pg_advisory_xact_lock_shared(:f)"), {"f": self._keys[1]})
        # a statement of its own: its snapshot is taken once the fence is held
        current = s.execute(text("SELECT epoch FROM instance_lease WHERE id = :id"),
                            {"id": LEASE}).scalar()
        if current != self.epoch:
            self.lost = True
            raise Fenced(f"another instance took over (epoch {current}, ours {self.epoch}); "
                         "this one writes nothing more")

    def ping(self) -> None:
        """Raises if the connection holding the lock is gone (the lock may be another's)."""
        assert self._conn is not None
        try:
            self._conn.execute(text("SELECT 1")).scalar()
            self._conn.commit()
        except Exception:
            self.lost = True
            raise

    def release(self) -> None:
        """Give the lock back (or let it go with the connection) and stop acting."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._keys[0]})
                self._conn.commit()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        self.epoch, self.lost = None, False

    def dispose(self) -> None:
        self.release()
        self.engine.dispose()


def _raise_epoch(conn: Connection | Session, holder: str) -> int:
    now = datetime.now(UTC)
    epoch = conn.execute(text(
        "UPDATE instance_lease SET epoch = epoch + 1, holder = :h, taken_at = :t "
        "WHERE id = :id RETURNING epoch"), {"h": holder, "t": now, "id": LEASE}).scalar()
    if epoch is None:
        conn.execute(text("INSERT INTO instance_lease (id, epoch, holder, taken_at) "
                          "VALUES (:id, 1, :h, :t)"), {"h": holder, "t": now, "id": LEASE})
        epoch = 1
    return int(epoch)
