"""Storage behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from bot.storage import repo
from bot.storage.models import Outbox, Room


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
        return [repo.next_number(s, a, "M"), repo.next_number(s, a, "M"),
                repo.next_number(s, b, "M"), repo.next_number(s, a, "P")]
    assert db.call(run) == [1, 2, 1, 1]


def test_an_event_is_claimed_once(db):
    now = datetime(2026, 11, 25, tzinfo=UTC)
    assert db.call(lambda s: repo.claim_event(s, "$x", "!a", now)) is True
    assert db.call(lambda s: repo.claim_event(s, "$x", "!a", now)) is False


def test_outbox_refuses_the_same_message_twice(db):
    now = datetime(2026, 11, 25, tzinfo=UTC)
    db.call(lambda s: repo.enqueue(s, "!a", {"body": "x"}, now, key="reply:$1"))
    with pytest.raises(IntegrityError):
        db.call(lambda s: repo.enqueue(s, "!a", {"body": "y"}, now, key="reply:$1"))
    rows = db.call(repo.pending_outbox)
    assert [r.content for r in rows] == [{"body": "x"}]
    db.call(lambda s: repo.enqueue(s, "!a", {"body": "z"}, now, key="reply:$2"))
    rows = db.call(repo.pending_outbox)
    db.call(lambda s: repo.mark_sent(s, [(rows[0].id, "$sent"), (rows[1].id, "$other")], now))
    assert db.call(repo.pending_outbox) == []
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
        repo.set_role(s, room, "@u:example.org", "coordinator")
        repo.set_role(s, room, "@u:example.org", "observer")
        repo.set_service(s, room, "@u:example.org", "Police")
        repo.set_service(s, room, "@v:example.org", "OCAM")
        repo.set_service(s, room, "@w:example.org", "Police")
        repo.set_state(s, "sync_token", "s1")
        repo.set_state(s, "sync_token", "s2")
        return (repo.explicit_role(s, room, "@u:example.org"), repo.services(s, room),
                repo.get_state(s, "sync_token"))
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
        assert repo.claim_event(s, "$e", "!a", now)
        repo.enqueue(s, "!a", {"body": "reply"}, now, key="reply:$e")
        raise RuntimeError("killed before the commit")

    with pytest.raises(RuntimeError):
        db.call(claim_then_fail)
    assert db.call(lambda s: repo.claim_event(s, "$e", "!a", now)) is True
    assert db.call(repo.pending_outbox) == []


def test_the_migrations_build_exactly_the_models(db):
    """A model changed without its migration would differ on a deployed database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.storage.schema import metadata

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
    assert diff == []
