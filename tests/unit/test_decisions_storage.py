"""Storage of fixed electorates, attendance marks and carried items, on SQLite and PostgreSQL;
the migration that gives open proposals their electorate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.core.electorate import open_electorate
from bot.storage import occurrences, rooms
from bot.storage.actions import Action
from bot.storage.agenda import AgendaItem
from bot.storage.db import MIGRATIONS, Database
from bot.storage.meetings import Meeting
from bot.storage.models import Representative, Room
from bot.storage.proposals import Proposal, electorate, fix_electorate
from harness.dbs import database_url

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ORIGINAL = datetime(2026, 11, 25, 10, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    with database_url(request.param, tmp_path) as found:
        yield found


@pytest.fixture
def db(url):
    database = Database(url)
    database.migrate()
    yield database
    database.close()


def _room(s) -> Room:
    room = Room(matrix_id="!a:example.org", kind="csil-r", name="CSIL-R Etterbeek",
                language="fr", timezone="Europe/Brussels", reminders="1d", agenda_deadline=0,
                set_up_by="@c:x", set_up_at=NOW)
    s.add(room)
    s.flush()
    return room


def _meeting(s, room) -> Meeting:
    m = Meeting(room_id=room.id, number=1, title="CSIL-R", start=ORIGINAL,
                tz="Europe/Brussels", duration=7200, uid="u1@coordbot", created_by="@c:x",
                created_at=NOW, sequence=0, cancelled=False)
    s.add(m)
    s.flush()
    return m


def _proposal(s, room, number=1, **kw) -> Proposal:
    p = Proposal(room_id=room.id, number=number, kind="plain", title="Fiche", rule="unanimity",
                 proposer="@c:x", created_at=NOW, deadline=NOW + timedelta(days=5),
                 state="open", outcome_posted=False, poll_ended=False, **kw)
    s.add(p)
    s.flush()
    return p


def test_an_electorate_is_kept_as_it_was_fixed(db):
    roster = {"OCAM": ["@bob:x"], "Police": ["@alice:x", "@carl:x"], "CPAS": ["@dora:x"]}
    fixed = open_electorate(roster, present=("OCAM", "Police"))

    def write(s):
        p = _proposal(s, _room(s))
        fix_electorate(p, fixed, NOW)
        return p.id

    pid = db.call(write)
    got = db.call(lambda s: electorate(s.get(Proposal, pid)))
    assert got.services == ("OCAM", "Police") and got.absent_services == ("CPAS",)
    assert dict(got.voters)["Police"] == ("@alice:x", "@carl:x")
    assert db.call(lambda s: s.get(Proposal, pid).electorate_at) == NOW


def test_attendance_marks_change_in_place(db):
    def write(s):
        m = _meeting(s, _room(s))
        occurrences.mark(s, m.id, ORIGINAL, ["@alice:x", "@bob:x"], True, "@c:x", NOW)
        s.flush()
        occurrences.mark(s, m.id, ORIGINAL, ["@bob:x"], False, "@c:x", NOW)
        s.flush()
        return occurrences.marks(s, m.id, ORIGINAL), occurrences.marks(s, m.id, NOW)

    here, elsewhere = db.call(write)
    assert here == {"@alice:x": True, "@bob:x": False} and elsewhere == {}


def test_what_the_minutes_read(db):
    def write(s):
        room = _room(s)
        m = _meeting(s, room)
        other = _meeting_two(s, room)
        _proposal(s, room, 1, meeting_id=m.id, occurrence=ORIGINAL)
        _proposal(s, room, 2)  # still open, made elsewhere
        closed_that_day = _proposal(s, room, 3)
        closed_that_day.state, closed_that_day.closed_at = "adopted", NOW + timedelta(hours=3)
        old = _proposal(s, room, 4)
        old.state, old.closed_at = "adopted", NOW - timedelta(days=2)
        item = AgendaItem(room_id=room.id, number=1, meeting_id=m.id, original=ORIGINAL,
                          position=2, title="Budget", author="@c:x", created_at=NOW,
                          late=False, done=False, carried=0)
        s.add(item)
        for number, created in ((1, NOW + timedelta(hours=1, minutes=30)),
                                (2, NOW + timedelta(hours=3, minutes=1))):
            s.add(Action(room_id=room.id, number=number, owner="@bob:x", text="Call",
                         created_by="@c:x", created_at=created, done=False))
        s.flush()
        occurrences.record_carry(s, item, other.id, datetime(2026, 12, 2, 10), NOW)
        item.meeting_id, item.original = other.id, datetime(2026, 12, 2, 10)
        s.flush()
        day = (datetime(2026, 11, 24, 23, tzinfo=UTC), datetime(2026, 11, 25, 23, tzinfo=UTC))
        found = occurrences.decisions(s, room, m.id, ORIGINAL, day)
        given = occurrences.actions_given(s, room, NOW + timedelta(hours=1),
                                          NOW + timedelta(hours=3))
        carried = occurrences.carried_from(s, m.id, ORIGINAL)
        return ([p.number for p in found], [a.number for a in given],
                [(c.position, i.title, i.meeting_id == other.id) for c, i in carried])

    numbers, actions, carried = db.call(write)
    assert numbers == [1, 3] and actions == [1]
    assert carried == [(2, "Budget", True)]


def _meeting_two(s, room) -> Meeting:
    m = Meeting(room_id=room.id, number=2, title="Suivi", start=datetime(2026, 12, 2, 10),
                tz="Europe/Brussels", duration=3600, uid="u2@coordbot", created_by="@c:x",
                created_at=NOW, sequence=0, cancelled=False)
    s.add(m)
    s.flush()
    return m


def test_the_migration_gives_open_proposals_the_rooms_services(url):
    """Proposals open when the bot is upgraded are decided, from then on, by the services
    their room has at that moment; closed ones keep no electorate."""
    database = Database(url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005e")

    def before(s):
        room = _room(s)
        for user, service in (("@alice:x", "Police"), ("@bob:x", "OCAM")):
            s.add(Representative(room_id=room.id, user_id=user, service=service))
        s.execute(text("INSERT INTO proposals (room_id, number, kind, title, rule, proposer, "
                       "created_at, deadline, state, outcome_posted, poll_ended) VALUES "
                       "(:r, :n, 'plain', 'x', 'unanimity', '@c:x', :t, :t, :st, :f, :f)"),
                  [{"r": room.id, "n": 1, "t": NOW, "st": "open", "f": False},
                   {"r": room.id, "n": 2, "t": NOW, "st": "adopted", "f": False}])

    with database.engine.begin() as conn, Session(bind=conn) as s:  # the old schema
        before(s)
        s.flush()
    database.migrate()

    def after(s):
        room = rooms.get_room(s, "!a:example.org")
        open_, closed = (s.query(Proposal).filter_by(room_id=room.id, number=n).one()
                         for n in (1, 2))
        return electorate(open_), electorate(closed)

    fixed, none = database.call(after)
    database.close()
    assert fixed.services == ("OCAM", "Police") and fixed.absent == ()
    assert none is None
