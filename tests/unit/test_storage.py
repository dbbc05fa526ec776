"""Storage behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from bot.outgoing import Outgoing
from bot.storage import outbox, progress, rooms
from bot.storage.models import Outbox, Room
from harness.dbs import database_url


def _room(s, matrix_id="!a:example.org") -> Room:
    room = Room(matrix_id=matrix_id, kind="tfl", name="TFL", language="fr",
                timezone="Europe/Brussels", reminders="1d,1h", agenda_deadline=172800,
                set_up_by="@c:example.org", set_up_at=datetime(2026, 1, 1, tzinfo=UTC))
    s.add(room)
    s.flush()
    return room


def test_migrations_create_the_schema_and_run_twice(db):
    db.migrate()  # at every start: a no-op the second time
    tables = set(inspect(db.engine).get_table_names())
    assert {"rooms", "room_roles", "room_services", "processed_events", "outbox",
            "counters", "bot_state", "alembic_version"} <= tables


def test_short_ids_are_per_room_and_sequential(db):
    def run(s):
        a, b = _room(s), _room(s, "!b:example.org")
        return [rooms.next_number(s, a, "M"), rooms.next_number(s, a, "M"),
                rooms.next_number(s, b, "M"), rooms.next_number(s, a, "P")]
    assert db.call(run) == [1, 2, 1, 1]


def test_an_event_is_claimed_once(db):
    now = datetime(2026, 11, 25, tzinfo=UTC)
    assert db.call(lambda s: progress.claim_event(s, "$x", "!a", now)) is True
    assert db.call(lambda s: progress.claim_event(s, "$x", "!a", now)) is False


def _say(s, body: str, key: str, now: datetime) -> list[Outbox]:
    return outbox.queue(s, [Outgoing("!a", {"body": body}, key)], now)


def test_outbox_refuses_the_same_message_twice(db):
    now = datetime(2026, 11, 25, tzinfo=UTC)
    db.call(lambda s: _say(s, "x", "reply:$1", now))
    with pytest.raises(IntegrityError):
        db.call(lambda s: _say(s, "y", "reply:$1", now))
    rows = db.call(outbox.pending)
    assert [r.content for r in rows] == [{"body": "x"}]
    db.call(lambda s: _say(s, "z", "reply:$2", now))
    rows = db.call(outbox.pending)
    db.call(lambda s: outbox.mark_sent(s, [(rows[0], "$sent"), (rows[1], "$other")], now))
    assert db.call(outbox.pending) == []
    assert db.call(lambda s: sorted(s.scalars(select(Outbox.event_id)))) == [
        "$other", "$sent"]


def test_datetimes_come_back_aware_in_utc(db):
    brussels = timezone(timedelta(hours=1))
    stamp = datetime(2026, 3, 29, 2, 30, tzinfo=brussels)

    def write(s):
        s.add(Outbox(room_id="!a", event_type="m.room.message", content={}, txn_id="t1",
                     created_at=stamp))

    db.call(write)
    back = db.call(lambda s: s.scalar(select(Outbox.created_at)))
    assert back == stamp and back.tzinfo is not None and back.utcoffset() == timedelta(0)


def test_roles_services_and_state(db):
    def run(s):
        room = _room(s)
        rooms.set_role(s, room, "@u:example.org", "coordinator")
        rooms.set_role(s, room, "@u:example.org", "observer")
        rooms.set_service(s, room, "@u:example.org", "Police")
        rooms.set_service(s, room, "@v:example.org", "OCAM")
        rooms.set_service(s, room, "@w:example.org", "Police")
        progress.set_state(s, "sync_token", "s1")
        progress.set_state(s, "sync_token", "s2")
        return (rooms.explicit_role(s, room, "@u:example.org"), rooms.services(s, room),
                progress.get_state(s, "sync_token"))
    role, services, token = db.call(run)
    assert role == "observer"
    assert services == {"OCAM": ["@v:example.org"],
                        "Police": ["@u:example.org", "@w:example.org"]}
    assert token == "s2"


def test_a_failed_unit_of_work_leaves_nothing(db):
    def half(s):
        _room(s)
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        db.call(half)
    assert db.call(lambda s: s.scalar(select(Room))) is None


def test_a_claimed_event_and_its_reply_are_one_transaction(db):
    """The claim is made in a savepoint; it must not be committed on its own."""
    now = datetime(2026, 11, 25, tzinfo=UTC)

    def claim_then_fail(s):
        assert progress.claim_event(s, "$e", "!a", now)
        _say(s, "reply", "reply:$e", now)
        raise RuntimeError("killed before the commit")

    with pytest.raises(RuntimeError):
        db.call(claim_then_fail)
    assert db.call(lambda s: progress.claim_event(s, "$e", "!a", now)) is True
    assert db.call(outbox.pending) == []


def test_the_migrations_build_exactly_the_models(db):
    """A model changed without its migration would differ on a deployed database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.storage.schema import metadata

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
    assert diff == []


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_what_was_looked_up_in_the_outbox_moves_where_it_belongs_at_the_upgrade(kind,
                                                                                 tmp_path):
    """Before, the device an answer was for travelled in the message's content, the room's
    rule was looked up when sending, and a poll's start was found in the outbox; the upgrade
    puts the first two on the waiting rows and the last on the proposal."""
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import text

    from bot.storage.db import MIGRATIONS, make_engine, migrate

    mark = "coordbot.deliver_to_device"
    with database_url(kind, tmp_path) as url:
        engine = make_engine(url)
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004o")
            for n, (room, kind_) in enumerate((("!strict", "tfl"), ("!open", "workgroup"))):
                conn.execute(text(
                    "INSERT INTO rooms (id, matrix_id, kind, name, language, timezone, "
                    "reminders, agenda_deadline, set_up_by, set_up_at) VALUES (:id, :m, :k, "
                    "'R', 'en', 'UTC', '', 0, '@c:x', :at)"),
                    {"id": n + 1, "m": room, "k": kind_, "at": datetime(2026, 1, 1)})
            for n, (room, marked, sent) in enumerate((("!strict", True, False),
                                                      ("!strict", False, False),
                                                      ("!open", True, False),
                                                      ("!strict", True, True))):
                content = {"body": f"m{n}", **({mark: ["@u:x", "PHONE"]} if marked else {})}
                conn.execute(text(
                    "INSERT INTO outbox (id, room_id, event_type, content, txn_id, "
                    "created_at, sent_at, urgent) VALUES (:id, :room, 'm.room.message', "
                    ":content, :txn, :at, :sent, false)"),
                    {"id": n + 1, "room": room, "content": json.dumps(content),
                     "txn": f"t{n}", "at": datetime(2026, 1, 1),
                     "sent": datetime(2026, 1, 1) if sent else None})
            conn.execute(text(
                "INSERT INTO proposals (id, room_id, number, kind, title, rule, proposer, "
                "created_at, deadline, state, outcome_posted, poll_ended) VALUES (7, 1, 1, "
                "'plain', 'T', 'unanimity', '@c:x', :at, :at, 'open', false, false)"),
                {"at": datetime(2026, 1, 1)})
            conn.execute(text(
                "INSERT INTO outbox (id, room_id, event_type, content, txn_id, created_at, "
                "sent_at, event_id, ref, urgent) VALUES (9, '!strict', 'poll', '{}', 'tp', "
                ":at, :at, '$start', 'poll:7', false)"), {"at": datetime(2026, 1, 1)})
        migrate(engine, ["tfl"])
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT content, verified_only, reader_user, "
                                     "reader_device FROM outbox WHERE id < 9 ORDER BY id")).all()
            poll = conn.execute(text("SELECT poll_event_id FROM proposals")).scalar()
        engine.dispose()
    assert poll == "$start"
    rows = [(json.loads(c) if isinstance(c, str) else c, bool(v), u, d) for c, v, u, d in rows]
    assert rows[0] == ({"body": "m0"}, True, "@u:x", "PHONE")
    assert rows[1] == ({"body": "m1"}, True, None, None)
    assert rows[2] == ({"body": "m2"}, False, None, None)  # any device reads it there
    assert rows[3][1:] == (False, None, None)  # sent already: left as it was
