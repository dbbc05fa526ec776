"""A sync's batch through the intake: one transaction, each event apart, nothing twice."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.commands import families
from bot.core.outage import RecordsUnavailable
from bot.intake import GROUP, Intake
from bot.matrix.events import RoomEvent
from bot.ops import Metrics
from bot.storage import outbox
from bot.storage.db import Database
from bot.storage.proposals import VoteRecord
from tests.unit.conftest import ROOM

ALICE, BOB = "@alice:example.org", "@bob:example.org"


class Broken:
    """An event handler that fails on events of kind "boom": `failure` is what it raises."""

    def __init__(self, failure: Exception):
        self.failure = failure

    def __call__(self, s, event, now):
        if event.kind == "boom":
            raise self.failure
        return None


def intake_for(chat, db: Database, handler: Broken) -> tuple[Intake, list]:
    queued: list = []
    intake = Intake(chat.config, db, chat.dispatcher,
                    [handler, *families.event_handlers(chat.config)], outbox.queue,
                    queued=queued.extend, changed=lambda: None,
                    metrics=Metrics(db, lambda: None), clock=lambda: chat.now)
    return intake, queued


_ids = itertools.count(1)


def event(chat, sender: str, body: str = "", kind: str = "text") -> RoomEvent:
    """An event sent just now (inside the catch-up window)."""
    return RoomEvent(room_id=ROOM, event_id=f"$batch{next(_ids)}", sender=sender,
                     sent_at_ms=int(chat.now.timestamp() * 1000), kind=kind, body=body,
                     power=0, members=frozenset(chat.members))


def voting_room(chat) -> None:
    chat.setup()
    chat.send("@chair:example.org", f"!service {ALICE} Police")
    chat.send("@chair:example.org", f"!service {BOB} OCAM")
    chat.send(ALICE, "!propose Share the sheet")


def votes(db: Database) -> int:
    return db.call(lambda s: s.scalar(select(func.count()).select_from(VoteRecord)))


def bodies(rows) -> list[str]:
    return [r.content.get("body", "") for r in rows]


def test_a_batch_answers_each_command_once_and_one_failure_is_undone_alone(any_db_chat, caplog):
    chat = any_db_chat
    voting_room(chat)
    intake, queued = intake_for(chat, chat.db, Broken(RuntimeError("handler bug")))
    batch = [event(chat, ALICE, "!vote P1 agree"), event(chat, BOB, kind="boom"),
             event(chat, BOB, "!vote P1 agree")]
    asyncio.run(intake.events(batch))

    said = bodies(queued)
    assert sum("Police votes agree on P1" in b for b in said) == 1
    assert sum("OCAM votes agree on P1" in b for b in said) == 1
    assert sum("P1 ADOPTED" in b for b in said) == 1  # the last vote closed it
    assert votes(chat.db) == 2
    assert f"handling {batch[1].event_id}" in caplog.text  # the failure, logged, undone alone
    # each event's messages go in their order, not after the other events' messages
    first_of_bob = next(r for r in queued if "OCAM votes" in r.content.get("body", ""))
    assert first_of_bob.follows is None

    queued.clear()
    asyncio.run(intake.events(batch[::2]))  # read again (a crash before the sync position)
    assert queued == [] and votes(chat.db) == 2


def test_a_batch_whose_database_goes_away_records_nothing_and_is_answered_once_later(any_db_chat):
    chat = any_db_chat
    voting_room(chat)
    gone = OperationalError("INSERT", {}, Exception("database is locked"))
    impatient = Database(chat.config.storage.database, retries=0)
    intake, queued = intake_for(chat, impatient, Broken(gone))
    batch = [event(chat, ALICE, "!vote P1 agree"), event(chat, BOB, kind="boom"),
             event(chat, BOB, "!vote P1 agree")]
    with pytest.raises(RecordsUnavailable):
        asyncio.run(intake.events(batch))
    assert queued == [] and votes(chat.db) == 0  # not even the first vote

    intake, queued = intake_for(chat, impatient, Broken(RuntimeError("not this time")))
    asyncio.run(intake.events([batch[0], batch[2]]))
    said = bodies(queued)
    assert sum("votes agree on P1" in b for b in said) == 2
    assert sum("P1 ADOPTED" in b for b in said) == 1
    impatient.close()


def test_a_storm_longer_than_one_transaction_is_answered_in_full_once(any_db_chat):
    chat = any_db_chat
    voting_room(chat)
    chat.dispatcher.rate.per_minute = 0  # a storm, not a user sending too fast
    intake, queued = intake_for(chat, chat.db, Broken(RuntimeError("unused")))
    storm = [event(chat, (ALICE, BOB)[n % 2], "!proposals") for n in range(2 * GROUP + 5)]
    asyncio.run(intake.events(storm))
    answered = [r.content["m.relates_to"]["m.in_reply_to"]["event_id"] for r in queued]
    assert sorted(answered) == sorted(e.event_id for e in storm)
    queued.clear()
    asyncio.run(intake.events(storm))
    assert queued == []
