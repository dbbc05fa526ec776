"""The electorate of a proposal (fixed when it opens) and who is present at a meeting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.attendance import (
    Presence,
    attendance,
    present_services,
    present_users,
    recorded_occurrence,
)
from bot.core.consensus import Choice, Rule, State, Vote, tally
from bot.core.electorate import Electorate, NoVote, open_electorate, voting_service, who_may_vote
from bot.core.recurrence import Series

ROOM = {"OCAM": ["@bob:x"], "Parquet": ["@coord:x"], "Police": ["@alice:x", "@carl:x"]}
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def current(room, user):
    return next((s for s, users in room.items() if user in users), None)


# ---- examples ------------------------------------------------------------------------

def test_every_service_of_the_room_votes_without_a_meeting():
    e = open_electorate(ROOM)
    assert e.services == ("OCAM", "Parquet", "Police") and e.absent == ()
    assert dict(e.voters)["Police"] == ("@alice:x", "@carl:x")


def test_a_service_added_later_has_no_vote():
    e = open_electorate(ROOM)
    later = {**ROOM, "CPAS": ["@dora:x"]}
    assert voting_service(e, "@dora:x", current(later, "@dora:x")) is NoVote.LATER
    assert "CPAS" not in who_may_vote(e, later)


def test_a_service_removed_later_still_votes_through_its_representatives():
    e = open_electorate(ROOM)
    later = {"OCAM": ["@bob:x"], "Parquet": ["@coord:x"]}  # Police removed
    assert voting_service(e, "@alice:x", None) == "Police"
    assert who_may_vote(e, later)["Police"] == ("@alice:x", "@carl:x")


def test_a_new_representative_of_a_voting_service_may_cast_its_vote():
    e = open_electorate(ROOM)
    later = {**ROOM, "OCAM": ["@bob:x", "@erin:x"]}
    assert voting_service(e, "@erin:x", "OCAM") == "OCAM"
    assert who_may_vote(e, later)["OCAM"] == ("@bob:x", "@erin:x")


def test_changing_service_in_the_middle_of_a_vote_gains_nothing():
    e = open_electorate(ROOM, present=("OCAM", "Police"))
    assert e.absent_services == ("Parquet",)
    # coord's service was absent: moving to Police does not give coord a vote
    assert voting_service(e, "@coord:x", "Police") is NoVote.ABSENT
    later = {"OCAM": ["@bob:x"], "Police": ["@alice:x", "@carl:x", "@coord:x"]}
    assert "@coord:x" not in who_may_vote(e, later)["Police"]
    # bob votes for OCAM whatever he represents now
    assert voting_service(e, "@bob:x", "Police") == "OCAM"


def test_nobody_without_a_service_votes():
    e = open_electorate(ROOM)
    assert voting_service(e, "@chair:x", None) is NoVote.NO_SERVICE


def test_nobody_present_leaves_nobody_to_decide():
    e = open_electorate(ROOM, present=())
    assert e.voters == () and e.absent_services == ("OCAM", "Parquet", "Police")


def test_present_marks_decide_once_anyone_is_marked_present():
    rsvps = {"@alice:x": "yes", "@bob:x": "yes", "@coord:x": "no"}
    assert present_services(ROOM, {}, rsvps) == ("OCAM", "Police")
    marks = {"@carl:x": True, "@bob:x": False}
    assert present_services(ROOM, marks, rsvps) == ("Police",)


def test_an_absent_mark_alone_takes_only_that_person_from_the_rsvps():
    rsvps = {"@alice:x": "yes", "@bob:x": "yes"}
    assert present_users({"@bob:x": False}, rsvps) == {"@alice:x"}
    # a present mark undone: the RSVPs count again, less the one marked absent
    assert present_services(ROOM, {"@carl:x": False}, rsvps) == ("OCAM", "Police")
    seen = attendance(ROOM, {"@bob:x": False}, rsvps)
    assert seen.present == {"@alice:x"} and seen.from_rsvps


def test_attendance_per_service_present_excused_absent():
    rsvps = {"@coord:x": "no", "@bob:x": "maybe"}
    a = attendance(ROOM, {"@carl:x": True, "@chair:x": True}, rsvps)
    assert dict(a.services) == {"OCAM": Presence.ABSENT, "Parquet": Presence.EXCUSED,
                                "Police": Presence.PRESENT}
    assert a.present == {"@carl:x", "@chair:x"} and not a.from_rsvps
    assert attendance(ROOM, {}, {"@bob:x": "yes"}).from_rsvps


def test_the_present_rule_counts_like_unanimity_over_those_present():
    e = open_electorate(ROOM, present=("OCAM", "Police"))
    votes = [Vote("OCAM", "@bob:x", Choice.AGREE, T0), Vote("Police", "@alice:x",
                                                              Choice.AGREE, T0)]
    t = tally(e.services, votes, Rule.PRESENT, T0 + timedelta(days=1), T0)
    assert t.state is State.ADOPTED and t.missing == ()


# ---- the occurrence a record is about -------------------------------------------------

WEEKLY = Series(datetime(2026, 11, 2, 14, 0), "Europe/Brussels", timedelta(hours=2),
                "FREQ=WEEKLY")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=1)


def test_the_occurrence_in_progress():
    assert recorded_occurrence(WEEKLY, local(23, 15)).original == datetime(2026, 11, 23, 14)


def test_the_one_later_today_before_it_starts():
    assert recorded_occurrence(WEEKLY, local(23, 9)).original == datetime(2026, 11, 23, 14)


def test_else_the_last_one_held():
    assert recorded_occurrence(WEEKLY, local(25, 9)).original == datetime(2026, 11, 23, 14)
    assert recorded_occurrence(WEEKLY, local(23, 16, 1)).original == datetime(2026, 11, 23, 14)


def test_none_before_the_first_one_and_a_one_off_of_long_ago():
    assert recorded_occurrence(WEEKLY, local(1, 9)) is None
    once = Series(datetime(2021, 3, 4, 10, 0), "Europe/Brussels", timedelta(hours=1))
    assert recorded_occurrence(once, local(25, 9)).original == datetime(2021, 3, 4, 10)


def test_a_cancelled_occurrence_is_not_the_last_one_held():
    series = Series(WEEKLY.start, WEEKLY.tz, WEEKLY.duration, WEEKLY.rule,
                    cancelled=frozenset({datetime(2026, 11, 23, 14)}))
    assert recorded_occurrence(series, local(25, 9)).original == datetime(2026, 11, 16, 14)


# ---- properties ----------------------------------------------------------------------

SERVICES = ("CPAS", "OCAM", "Parquet", "Police", "Prison")
USERS = tuple(f"@u{i}:x" for i in range(8))


@st.composite
def rosters(draw) -> dict[str, list[str]]:
    """A room: each user represents at most one service."""
    owner = draw(st.lists(st.sampled_from((None, *SERVICES)), min_size=len(USERS),
                          max_size=len(USERS)))
    room: dict[str, list[str]] = {}
    for user, service in zip(USERS, owner, strict=True):
        if service is not None:
            room.setdefault(service, []).append(user)
    return dict(sorted(room.items()))


PROPS = settings(max_examples=200, deadline=None)


@PROPS
@given(rosters(), st.none() | st.sets(st.sampled_from(SERVICES)))
def test_prop_voters_and_absent_split_the_room(room, present):
    e = open_electorate(room, present)
    assert set(e.services) | set(e.absent_services) == set(room)
    assert not set(e.services) & set(e.absent_services)
    if present is None:
        assert e.services == tuple(room) and e.absent == ()
    else:
        assert set(e.services) == set(room) & present


@PROPS
@given(rosters(), rosters(), st.none() | st.sets(st.sampled_from(SERVICES)))
def test_prop_who_may_vote_is_exactly_who_gets_a_vote(before, after, present):
    """Whatever the room became, the listing of who may vote and the check made at each
    vote agree, and nobody ever votes for a service outside the electorate."""
    e = open_electorate(before, present)
    may = who_may_vote(e, after)
    assert tuple(may) == e.services
    for user in USERS:
        got = voting_service(e, user, current(after, user))
        listed = [s for s, users in may.items() if user in users]
        if isinstance(got, NoVote):
            assert listed == []
        else:
            assert got in e.services and listed == [got]


@PROPS
@given(rosters(), rosters())
def test_prop_representatives_at_opening_keep_their_vote(before, after):
    e = open_electorate(before)
    for service, users in before.items():
        for user in users:
            assert voting_service(e, user, current(after, user)) == service


@PROPS
@given(rosters(), st.dictionaries(st.sampled_from(USERS), st.booleans()),
       st.dictionaries(st.sampled_from(USERS), st.sampled_from(("yes", "no", "maybe"))))
def test_prop_presence_per_service(room, marks, rsvps):
    present = present_services(room, marks, rsvps)
    a = attendance(room, marks, rsvps)
    assert tuple(a.services) == tuple(room)
    assert tuple(s for s, p in a.services.items() if p is Presence.PRESENT) == present
    for service, p in a.services.items():
        said_no = any(rsvps.get(u) == "no" for u in room[service])
        assert (p is Presence.EXCUSED) == (p is not Presence.PRESENT and said_no)
    if any(marks.values()):  # once anyone is marked present the RSVPs no longer count
        assert present == present_services(room, marks, {})
    else:  # the RSVPs answered yes, less those marked absent
        assert present == present_services(room, {u: True for u, a in rsvps.items()
                                                   if a == "yes" and u not in marks}, {})


@PROPS
@given(rosters(), st.lists(st.tuples(st.sampled_from(USERS), st.sampled_from(list(Choice)),
                                     st.integers(0, 100)), max_size=12))
def test_prop_only_the_electorate_counts(room, raw):
    """Votes routed through the electorate: a tally over it equals a tally that never saw
    the votes of people without a vote."""
    e = open_electorate(room)
    later = {**room, "Newcomers": ["@late:x"]}
    votes, kept = [], []
    for seq, (user, choice, minute) in enumerate([*raw, ("@late:x", Choice.OBJECT, 1)]):
        service = voting_service(e, user, current(later, user))
        vote = Vote(service if isinstance(service, str) else "Newcomers", user, choice,
                    T0 + timedelta(minutes=minute), "r", seq)
        votes.append(vote)
        if isinstance(service, str):
            kept.append(vote)
    deadline = T0 + timedelta(hours=5)
    full = tally(e.services, votes, Rule.UNANIMITY, deadline, deadline)
    clean = tally(e.services, kept, Rule.UNANIMITY, deadline, deadline)
    assert (full.state, dict(full.counted), full.missing) == (clean.state, dict(clean.counted),
                                                              clean.missing)


def test_electorate_is_a_plain_value():
    assert open_electorate(ROOM) == Electorate((("OCAM", ("@bob:x",)),
                                                ("Parquet", ("@coord:x",)),
                                                ("Police", ("@alice:x", "@carl:x"))))


@PROPS
@given(st.integers(0, 60 * 24 * 60))
def test_prop_recorded_occurrence_has_started_or_starts_today(minutes):
    now = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    occ = recorded_occurrence(WEEKLY, now)
    if occ is None:
        assert now < datetime(2026, 11, 2, 13, tzinfo=UTC)
        return
    day = now.astimezone(occ.start.tzinfo).date()
    assert occ.start <= now or occ.start.date() == day
    if occ.start <= now < occ.end:
        return
    later = recorded_occurrence(WEEKLY, now - timedelta(minutes=1))
    assert later is None or later.start <= occ.start
