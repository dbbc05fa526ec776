"""Engine, migrations and transactions.

All database work runs on one worker thread, one transaction per unit of work: the event loop
never blocks on the database, SQLite never sees two writers from this process, and a command's
changes and the messages reporting them are committed together or not at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.core.outage import RecordsUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            # pysqlite's own transaction handling breaks SAVEPOINT (a released savepoint
            # would commit on its own): let SQLAlchemy say BEGIN itself, so a unit of work
            # and its savepoints stay one transaction
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)

    @event.listens_for(engine, "connect")
    def _bounded(dbapi_conn, _record):
        # a frozen or cut-off instance must not hold row locks for ever: the instance
        # taking over waits for its open transactions (bot.storage.lease)
        with dbapi_conn.cursor() as cur:
            cur.execute("SET idle_in_transaction_session_timeout = '15s'")
        dbapi_conn.commit()

    return engine


# Whether a transaction wrote anything since `writes_since` was last asked (so that a
# read-only command need not wake the clock).
@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _flush_context) -> None:
    session.info["wrote"] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["wrote"] = True


@contextmanager
def savepoint(s: Session) -> Iterator[None]:
    """A part of the transaction undone alone if it fails (a command's own changes, so that
    its reply is still kept)."""
    nested = s.begin_nested()
    try:
        yield
        s.flush()
    except BaseException:
        nested.rollback()
        raise
    nested.commit()


def one_of_many(s: Session, fn: Callable[[Session], T], what: str) -> T | None:
    """One event's part of a transaction that handles several (a sync's batch): what `fn`
    returns, or None when it failed; then it is undone alone, logged as `what`, and the
    others go on. The database going away ends the whole transaction instead (it is tried
    again). The messages `fn` queues follow each other, not the batch's earlier events; after
    a part is undone, nothing the session remembered for the transaction is trusted again."""
    s.info.pop("outbox_last", None)  # bot.storage.outbox.queue's order: one event's messages
    try:
        with savepoint(s):
            return fn(s)
    except Exception as exc:
        if isinstance(exc, DBAPIError) and _transient(exc):
            raise
        s.info.clear()
        log.exception("%s failed; undone alone", what)
        return None


def writes_since(s: Session) -> bool:
    """Whether `s` wrote since the last call (and start counting again)."""
    return bool(s.info.pop("wrote", False))


def migrate(engine: Engine, verified_only_kinds: Sequence[str] = ()) -> None:
    """Bring the schema to the newest revision (run at every start). `verified_only_kinds`:
    the room kinds whose messages only cross-signed devices may read, for revisions that
    decide it for messages still waiting."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["verified_only_kinds"] = tuple(verified_only_kinds)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


# What a database that cannot do what was asked raises (no such file, no such table), for
# callers outside this package that report it.
DatabaseError = OperationalError


class DatabaseUnavailable(RecordsUnavailable):
    """The database stayed unavailable or locked through every retry; nothing was written."""


class Fence(Protocol):
    def check(self, s: Session) -> None:
        """Raise unless this instance may still write (bot.storage.lease.Lease)."""


class Database:
    def __init__(self, url: str, *, retries: int = 5, fence: Fence | None = None):
        self.url = url
        self.fence = fence
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
        self._retries = retries

    def migrate(self, verified_only_kinds: Sequence[str] = ()) -> None:
        migrate(self.engine, verified_only_kinds)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any error."""
        with self._sessions() as s, s.begin():
            if self.fence is not None:
                self.fence.check(s)
            yield s

    def call(self, fn: Callable[[Session], T], *, retries: int | None = None) -> T:
        """Run `fn` in a transaction, retrying when the database is unavailable or locked."""
        delay = 0.2
        retries = self._retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                with self.session() as s:
                    return fn(s)
            except (OperationalError, DBAPIError) as exc:
                if not _transient(exc):
                    raise
                if attempt == retries:
                    raise DatabaseUnavailable(str(exc.orig or exc)) from exc
                log.warning("database unavailable (%s); retry %d/%d in %.1fs",
                            type(exc.orig).__name__ if exc.orig else type(exc).__name__,
                            attempt + 1, retries, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5)
        raise AssertionError("unreachable")

    async def run(self, fn: Callable[[Session], T]) -> T:
        """`call` on the database thread, awaited from the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.call, fn)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - health check reports, never raises
            return False

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()


def _transient(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    text = str(exc.orig or exc).lower()
    return any(w in text for w in ("locked", "busy", "connection", "server closed",
                                   "could not connect", "terminating"))
