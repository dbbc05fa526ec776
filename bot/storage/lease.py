"""Which instance acts, and a fence so that one that lost the lock writes nothing more.

Election: a session-level PostgreSQL advisory lock, held by a dedicated connection. The
holder's connection closing (a killed process) frees it at once for a standby.

Fencing: a lock alone does not stop an instance that lost it without noticing yet (its
connection was cut, or the process was frozen and woke up later) from writing with its other
connections. So each instance that becomes active raises an epoch in `instance_lease`, and
every transaction it runs afterwards first reads that epoch `FOR SHARE` and gives up unless it
is still its own. The row lock orders the two: the new holder's raise waits for the old
holder's running transactions to end, and every later transaction of the old holder sees
the new epoch and writes nothing. (Asking `pg_locks` whether our lock connection still holds
the lock would leave a window between the check and the commit; the row lock has none.)
"""

from __future__ import annotations

import contextlib
import os
import socket
from datetime import UTC, datetime

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

LOCK_KEY = 0x636F6F7264626F74  # "coordbot": the key of every version, in the default schema
LEASE = 1  # the one row of instance_lease


class Fenced(Exception):
    """Another instance became active: this one may not write any more."""


def lock_key(conn: Connection) -> int:
    """The advisory lock's key: one per schema, so that databases sharing a server (tests
    run in parallel, one schema each) do not take each other's lock."""
    schema = conn.execute(text("SELECT current_schema()")).scalar()
    if schema in (None, "public"):
        return LOCK_KEY
    return int(conn.execute(text("SELECT hashtextextended(:s, 0)"),
                            {"s": f"coordbot:{schema}"}).scalar())


class Lease:
    """The instance lock and its fence, for PostgreSQL. Blocking calls: run them off the
    event loop. `check` is called by bot.storage.db.Database at the start of each
    transaction."""

    def __init__(self, database_url: str):
        self.holder = f"{socket.gethostname()} pid {os.getpid()}"
        self.engine = create_engine(database_url, pool_size=1, max_overflow=0,
                                    connect_args={"application_name": f"coordbot lock "
                                                  f"{self.holder}"[:63]})
        self._conn: Connection | None = None
        self.epoch: int | None = None  # set while this instance is the active one
        self.lost = False  # this instance was active and may no longer write

    def try_take(self) -> bool:
        """Take the lock if it is free; True when this instance holds it now."""
        conn = self.engine.connect()
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                    {"k": lock_key(conn)}).scalar())
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
        now = datetime.now(UTC)
        epoch = conn.execute(text(
            "UPDATE instance_lease SET epoch = epoch + 1, holder = :h, taken_at = :t "
            "WHERE id = :id RETURNING epoch"), {"h": self.holder, "t": now, "id": LEASE}
        ).scalar()
        if epoch is None:
            conn.execute(text("INSERT INTO instance_lease (id, epoch, holder, taken_at) "
                              "VALUES (:id, 1, :h, :t)"), {"h": self.holder, "t": now,
                                                           "id": LEASE})
            epoch = 1
        conn.commit()
        self.epoch, self.lost = int(epoch), False
        return self.epoch

    def check(self, s: Session) -> None:
        """Refuse the transaction unless this instance's epoch is still the current one."""
        if self.epoch is None:
            return  # not acting (a standby): it only reads
        if self.lost:
            raise Fenced("another instance took over; this one writes nothing more")
        current = s.execute(text("SELECT epoch FROM instance_lease WHERE id = :id FOR SHARE"),
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
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"),
                                   {"k": lock_key(self._conn)})
                self._conn.commit()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        self.epoch, self.lost = None, False

    def dispose(self) -> None:
        self.release()
        self.engine.dispose()
