"""The instance lock and its fence on PostgreSQL: an instance that lost the lock writes
nothing more, even before it notices."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from bot.storage import progress
from bot.storage.db import Database
from bot.storage.lease import Fenced, Lease
from harness.dbs import database_url


@pytest.fixture
def url(tmp_path):
    with database_url("postgresql", tmp_path) as url:
        Database(url).migrate()
        yield url


def cut(url: str, pid: int) -> None:
    """The network drops the lock's connection: the server ends it and frees the lock."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    engine.dispose()


def take(lease: Lease, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not lease.try_take():
        assert time.monotonic() < deadline, "the lock never came free"
        time.sleep(0.1)
    lease.fence()


def test_an_instance_that_lost_the_lock_writes_nothing_more(url):
    a, b = Lease(url), Lease(url)
    db_a, db_b = Database(url, fence=a), Database(url, fence=b)
    take(a)
    assert not b.try_take()  # a standby waits
    db_a.call(lambda s: progress.set_state(s, "k", "from a"))

    cut(url, a.backend())  # a has not noticed yet: its other connections still work
    take(b)
    with pytest.raises(Fenced, match="another instance took over"):
        db_a.call(lambda s: progress.set_state(s, "k", "from a, too late"))
    with pytest.raises(Fenced):  # and from then on, without asking the database
        db_a.call(lambda s: progress.get_state(s, "k"))
    db_b.call(lambda s: progress.set_state(s, "other", "from b"))
    assert db_b.call(lambda s: progress.get_state(s, "k")) == "from a"
    for thing in (a, b, db_a, db_b):
        (thing.dispose if isinstance(thing, Lease) else thing.close)()


def test_the_new_holder_waits_for_the_old_holders_last_transaction(url):
    """The fence orders the two: what the old holder commits, it commits before the new
    holder starts; nothing after."""
    a, b = Lease(url), Lease(url)
    db_a = Database(url, fence=a)
    take(a)
    started, finish = threading.Event(), threading.Event()

    def long_write(s):
        progress.set_state(s, "k", "a's last write")
        started.set()
        finish.wait(10)

    writer = threading.Thread(target=lambda: db_a.call(long_write))
    writer.start()
    started.wait(10)
    cut(url, a.backend())
    taken = threading.Thread(target=take, args=(b,))
    taken.start()
    taken.join(1.0)
    assert taken.is_alive()  # b waits for a's transaction to end
    finish.set()
    writer.join(10)
    taken.join(10)
    assert not taken.is_alive() and b.epoch == 2
    db_b = Database(url, fence=b)
    assert db_b.call(lambda s: progress.get_state(s, "k")) == "a's last write"
    for thing in (a, b):
        thing.dispose()
    db_a.close()
    db_b.close()


def test_databases_sharing_a_server_have_their_own_lock(tmp_path, url):
    with database_url("postgresql", tmp_path / "other") as other:
        Database(other).migrate()
        here, there = Lease(url), Lease(other)
        assert here.try_take() and there.try_take()
        here.dispose()
        there.dispose()
