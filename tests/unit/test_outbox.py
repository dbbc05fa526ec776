"""The outbox sender: urgent messages first in their room, rooms in parallel, a few messages
of a room at once, one transaction's messages in order, nothing sent twice, failures retried
before anything new."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.outbox import IN_FLIGHT, OutboxSender
from bot.outgoing import Outgoing, SendFailed
from bot.storage import outbox as store
from bot.storage.db import Database
from bot.storage.models import Outbox, Room

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'outbox.db'}")
    database.migrate()
    yield database
    database.close()


def queue(db, *messages, together=False, kinds=()):
    """Queue (room, body, urgent) messages (or Outgoing ones), each in its own transaction
    (as separate commands would) or all in one; returns their rows."""
    def work(s, batch):
        return store.queue(s, [m if isinstance(m, Outgoing) else
                               Outgoing(m[0], {"body": m[1]}, f"{m[0]}:{m[1]}", urgent=m[2])
                               for m in batch], NOW, verified_only_kinds=kinds)
    if together:
        return db.call(lambda s: work(s, messages))
    return [row for m in messages for row in db.call(lambda s, m=m: work(s, [m]))]


class Homeserver:
    """Records what was sent, per room; `hold` makes a room's sends wait for an event,
    `slow` delays one message."""

    def __init__(self):
        self.sent: list[tuple[str, str]] = []
        self.started: list[str] = []
        self.failed_at: list[int] = []  # how many sends had started when one failed
        self.timeline: list[tuple[str, str]] = []
        self.fail: dict[str, list[SendFailed]] = {}
        self.hold: dict[str, asyncio.Event] = {}
        self.slow: dict[str, float] = {}
        self.in_flight = self.most_in_flight = 0

    async def send(self, row: Outbox) -> str:
        body = row.content["body"]
        self.started.append(body)
        self.timeline.append(("start", body))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if row.room_id in self.hold:
                await self.hold[row.room_id].wait()
            await asyncio.sleep(self.slow.get(body, 0.001))
            if self.fail.get(body):
                self.failed_at.append(len(self.started))
                self.timeline.append(("failed", body))
                raise self.fail[body].pop(0)
        finally:
            self.in_flight -= 1
        self.sent.append((row.room_id, body))
        self.timeline.append(("sent", body))
        return f"$event-{len(self.sent)}"

    def bodies(self, room: str) -> list[str]:
        return [b for r, b in self.sent if r == room]


async def run_until(sender: OutboxSender, done, timeout: float = 5.0) -> None:
    task = asyncio.create_task(sender.run())
    try:
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await sender.close()


def make_sender(db, hs: Homeserver) -> OutboxSender:
    ready = asyncio.Event()
    ready.set()
    return OutboxSender(db, hs.send, lambda: NOW, ready=ready)


async def test_urgent_messages_overtake_the_waiting_ones_of_their_room(db):
    queue(db, *[("!a", f"reply {n}", False) for n in range(5)],
          ("!a", "outcome", True), ("!a", "poll end", True))
    hs = Homeserver()
    await run_until(make_sender(db, hs), lambda: len(hs.sent) == 7)
    assert hs.bodies("!a") == ["outcome", "poll end"] + [f"reply {n}" for n in range(5)]


async def test_an_urgent_message_queued_during_a_burst_goes_before_the_waiting_ones(db):
    hs = Homeserver()
    hs.hold["!a"] = asyncio.Event()
    sender = make_sender(db, hs)
    sender.add(queue(db, *[("!a", f"reply {n}", False) for n in range(10)]))
    task = asyncio.create_task(run_until(sender, lambda: len(hs.sent) == 11))
    await asyncio.sleep(0.05)  # the first replies are on their way
    assert hs.in_flight == IN_FLIGHT
    sender.add(queue(db, ("!a", "outcome", True)))
    hs.hold["!a"].set()
    await task
    sent = hs.bodies("!a")
    assert sent.index("outcome") < min(sent.index(f"reply {n}") for n in range(IN_FLIGHT, 10))
    assert hs.most_in_flight == IN_FLIGHT


async def test_a_room_never_has_more_than_its_share_on_the_way(db):
    hs = Homeserver()
    hs.slow = {f"reply {n}": 0.01 * (n + 1) for n in range(12)}  # each done at its own time
    sender = make_sender(db, hs)
    sender.add(queue(db, *[("!a", f"reply {n}", False) for n in range(12)]))
    await run_until(sender, lambda: len(hs.sent) == 12)
    assert hs.most_in_flight == IN_FLIGHT


async def test_one_transactions_messages_keep_their_order(db):
    hs = Homeserver()
    hs.slow["reply"] = 0.1  # the reply is slow to store; its outcome still waits for it
    queue(db, ("!a", "reply", False), ("!a", "outcome", True), ("!a", "poll end", True),
          together=True)
    queue(db, ("!a", "other", False))
    await run_until(make_sender(db, hs), lambda: len(hs.sent) == 4)
    sent = hs.bodies("!a")
    assert sent.index("reply") < sent.index("outcome") < sent.index("poll end")
    assert sent[0] == "other"  # not part of that transaction: it need not wait


async def test_rooms_are_sent_to_in_parallel_each_in_its_order(db):
    queue(db, ("!a", "a1", False), ("!b", "b1", False), ("!a", "a2", False),
          ("!b", "b2", False), together=True)
    hs = Homeserver()
    hs.hold["!a"] = asyncio.Event()  # room a waits until room b is through
    sender = make_sender(db, hs)

    def done():
        if len(hs.bodies("!b")) == 2:
            hs.hold["!a"].set()
        return len(hs.sent) == 4

    await run_until(sender, done)
    assert hs.bodies("!b") == ["b1", "b2"] and hs.bodies("!a") == ["a1", "a2"]
    assert hs.sent[:2] == [("!b", "b1"), ("!b", "b2")]


async def test_a_failed_send_is_retried_before_anything_new_of_its_room(db):
    queue(db, *[("!a", f"m{n:02d}", False) for n in range(20)])
    hs = Homeserver()
    hs.slow = {f"m{n:02d}": 0.02 for n in range(1, 20)}
    hs.slow["m00"] = 0.05  # fails while others are on their way
    hs.fail["m00"] = [SendFailed("M_LIMIT_EXCEEDED", "slow down")]
    started = time.monotonic()
    await run_until(make_sender(db, hs), lambda: len(hs.sent) == 20)
    assert sorted(hs.bodies("!a")) == sorted(f"m{n:02d}" for n in range(20))
    # after the failure: those on their way finish, m00 goes again alone after a pause,
    # and only once it is through does anything new start
    after = hs.timeline[hs.timeline.index(("failed", "m00")) + 1:]
    starts = [i for i, (what, _) in enumerate(after) if what == "start"]
    assert after[starts[0]] == ("start", "m00")
    assert after.index(("sent", "m00")) < starts[1]
    assert time.monotonic() - started >= 0.4


async def test_once_the_homeserver_is_back_the_waiting_messages_go_without_pauses(db):
    """Every message on its way fails while the homeserver is down; the first one through
    shows it is back, and the others follow at once, in order, not one per pause."""
    queue(db, *[("!a", f"m{n:02d}", False) for n in range(12)])
    hs = Homeserver()
    down = True
    send = hs.send

    async def flaky(row):
        if down:
            hs.failed_at.append(len(hs.started))
            raise OSError("connection refused")
        return await send(row)

    sender = OutboxSender(db, flaky, lambda: NOW, ready=asyncio.Event())
    sender.ready.set()
    task = asyncio.create_task(run_until(sender, lambda: len(hs.sent) == 12, timeout=30))
    while len(hs.failed_at) < 5:  # the first ones failed, and one again after a pause
        await asyncio.sleep(0.01)
    down = False
    back = time.monotonic()
    await task
    assert time.monotonic() - back < 3  # a pause or two, not one per waiting message
    assert hs.bodies("!a") == [f"m{n:02d}" for n in range(12)]


async def test_a_refused_message_is_dropped_and_the_room_goes_on(db):
    queue(db, ("!a", "refused", False), ("!a", "next", False), together=True)
    hs = Homeserver()
    hs.fail["refused"] = [SendFailed("M_FORBIDDEN", "not in room")]
    await run_until(make_sender(db, hs), lambda: len(hs.sent) == 1)
    assert hs.bodies("!a") == ["next"]


async def test_each_message_is_sent_once_and_marked_with_its_event(db):
    hs = Homeserver()
    sender = make_sender(db, hs)
    rows = queue(db, *[(f"!r{n % 3}", f"m{n}", n % 4 == 0) for n in range(30)])
    sender.add(rows)  # handed over at once …
    sender.wake()  # … and read back from the database as well

    def all_marked():
        return db.call(lambda s: s.scalars(select(Outbox).where(
            Outbox.sent_at.is_(None))).first()) is None

    await run_until(sender, lambda: len(hs.sent) >= 30 and all_marked())
    assert sorted(b for _, b in hs.sent) == sorted(f"m{n}" for n in range(30))
    events = db.call(lambda s: s.scalars(select(Outbox.event_id)).all())
    assert len(set(events)) == 30 and all(e.startswith("$event-") for e in events)


async def test_nothing_is_sent_before_the_rooms_are_known(db):
    hs = Homeserver()
    ready = asyncio.Event()
    sender = OutboxSender(db, hs.send, lambda: NOW, ready=ready)
    sender.add(queue(db, ("!a", "early", False)))
    task = asyncio.create_task(sender.run())
    await asyncio.sleep(0.1)
    assert hs.sent == []
    ready.set()
    async with asyncio.timeout(5):
        while not hs.sent:
            await asyncio.sleep(0.01)
    task.cancel()
    await sender.close()
    assert hs.sent == [("!a", "early")]


async def test_a_message_meant_for_one_more_device_goes_alone(db):
    hs = Homeserver()
    hs.hold["!a"] = asyncio.Event()
    ready = asyncio.Event()
    ready.set()
    sender = OutboxSender(db, hs.send, lambda: NOW, ready=ready)
    db.call(lambda s: s.add(Room(matrix_id="!a", kind="tfl", name="TFL", language="en",
                                 timezone="UTC", reminders="", agenda_deadline=0,
                                 set_up_by="@chair:x", set_up_at=NOW)))
    refusal = Outgoing("!a", {"body": "refusal"}, "refusal", device=("@u:x", "PHONE"))
    sender.add(queue(db, ("!a", "m0", False), refusal, ("!a", "m1", False),
                     ("!a", "m2", False), kinds=("tfl",)))
    task = asyncio.create_task(run_until(sender, lambda: len(hs.sent) == 4))
    await asyncio.sleep(0.05)
    assert hs.in_flight == 1  # m0; the refusal waits for it, and the rest for the refusal
    hs.hold["!a"].set()
    await task
    assert hs.bodies("!a") == ["m0", "refusal", "m1", "m2"]


async def test_waiting_for_the_queued_messages_ends_when_they_are_sent_or_at_the_limit(db):
    hs = Homeserver()
    hs.slow["reply"] = 0.2
    sender = make_sender(db, hs)
    task = asyncio.create_task(run_until(sender, lambda: len(hs.sent) == 3))
    await sender.sent(1.0)  # nothing queued: no wait
    sender.add(queue(db, ("!a", "reply", False)))
    began = time.monotonic()
    await sender.sent(0.05)
    assert time.monotonic() - began < 0.15 and hs.sent == []  # gave up at the limit
    await sender.sent(1.0)
    assert hs.bodies("!a") == ["reply"]  # ended as soon as it was through
    sender.add(queue(db, ("!b", "other", False)))
    await sender.sent(1.0)
    assert hs.bodies("!b") == ["other"]
    # a message that failed waits for its retry; nobody waits for it meanwhile
    hs.fail["again"] = [SendFailed("M_LIMIT_EXCEEDED", "slow down")]
    sender.add(queue(db, ("!c", "again", False)))
    began = time.monotonic()
    await sender.sent(1.0)
    assert time.monotonic() - began < 0.3 and hs.bodies("!c") == []
    await task
