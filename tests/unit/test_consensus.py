from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.consensus import (
    Choice,
    Rule,
    State,
    Tally,
    Vote,
    reminder_due,
    services_to_remind,
    tally,
)

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(days=3)
ROOM = ("police", "cpas", "prison")

AG, OB, AB = Choice.AGREE, Choice.OBJECT, Choice.ABSTAIN


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def v(
    service: str,
    choice: Choice,
    minute: int,
    user: str = "",
    reason: str | None = None,
    seq: int = 0,
) -> Vote:
    return Vote(service, user or f"@{service}:example.org", choice, at(minute), reason, seq)


def run(
    votes: list[Vote],
    rule: Rule = Rule.UNANIMITY,
    now: datetime | None = None,
    services: tuple[str, ...] = ROOM,
    **kw: datetime,
) -> Tally:
    return tally(services, votes, rule, DEADLINE, now or at(60 * 24), **kw)


# --- examples: unanimity ----------------------------------------------------


def test_unanimity_adopted_as_soon_as_every_service_agreed() -> None:
    t = run([v("police", AG, 1), v("cpas", AG, 2), v("prison", AG, 3)])
    assert t.state == State.ADOPTED
    assert t.closed_at == at(3)
    assert t.closes_now
    assert t.missing == () and t.objections == () and t.ignored == ()
    assert list(t.counted) == list(ROOM)


def test_abstention_counts_as_voted_under_unanimity() -> None:
    t = run([v("police", AG, 1), v("cpas", AB, 2), v("prison", AG, 3)])
    assert t.state == State.ADOPTED


def test_open_while_a_service_is_missing() -> None:
    t = run([v("police", AG, 1), v("prison", AG, 3)])
    assert t.state == State.OPEN
    assert t.closed_at is None and not t.closes_now
    assert t.missing == ("cpas",)
    assert services_to_remind(t) == ("cpas",)


def test_last_vote_objecting_rejects_at_once() -> None:
    t = run([v("police", AG, 1), v("cpas", AG, 2), v("prison", OB, 3, reason="ongoing case")])
    assert t.state == State.REJECTED
    assert t.closed_at == at(3)
    assert t.objections == (("prison", "ongoing case"),)


def test_early_objection_stays_open_and_can_be_withdrawn() -> None:
    votes = [v("police", OB, 1, reason="need more info"), v("cpas", AG, 2)]
    t = run(votes)
    assert t.state == State.OPEN
    assert t.objections == (("police", "need more info"),)
    t = run(votes + [v("police", AG, 5), v("prison", AG, 6)])
    assert t.state == State.ADOPTED
    assert t.objections == ()


def test_deadline_with_missing_service_is_no_consensus() -> None:
    t = run([v("prison", AG, 1), v("police", AG, 2)], now=DEADLINE)
    assert t.state == State.NO_CONSENSUS
    assert t.closed_at == DEADLINE
    assert t.missing == ("cpas",)
    assert services_to_remind(t) == ()


def test_deadline_with_objection_is_rejected_even_if_incomplete() -> None:
    t = run([v("police", OB, 1, reason="r1"), v("prison", OB, 2)], now=DEADLINE + timedelta(1))
    assert t.state == State.REJECTED
    assert t.objections == (("police", "r1"), ("prison", None))
    assert t.missing == ("cpas",)


def test_missing_listed_in_room_order() -> None:
    t = run([v("cpas", AG, 1)], services=("a", "cpas", "b", "c"))
    assert t.missing == ("a", "b", "c")


# --- examples: no-objection -------------------------------------------------


@pytest.mark.parametrize(
    ("n_services", "n_voted", "expected"),
    [
        (4, 2, State.ADOPTED),
        (4, 1, State.NO_CONSENSUS),
        (3, 2, State.ADOPTED),
        (3, 1, State.NO_CONSENSUS),
        (1, 0, State.NO_CONSENSUS),
        (2, 1, State.ADOPTED),
    ],
)
def test_no_objection_needs_half_of_the_services(
    n_services: int, n_voted: int, expected: State
) -> None:
    room = tuple(f"s{i}" for i in range(n_services))
    votes = [v(room[i], AB if i % 2 else AG, i + 1) for i in range(n_voted)]
    t = run(votes, Rule.NO_OBJECTION, now=DEADLINE, services=room)
    assert t.state == expected
    assert t.closed_at == DEADLINE


def test_no_objection_stays_open_until_deadline() -> None:
    t = run([v("police", AG, 1), v("cpas", AG, 2)], Rule.NO_OBJECTION)
    assert t.state == State.OPEN


def test_no_objection_closes_early_when_everyone_voted() -> None:
    t = run([v("police", AG, 1), v("cpas", AB, 2), v("prison", AG, 3)], Rule.NO_OBJECTION)
    assert (t.state, t.closed_at) == (State.ADOPTED, at(3))


def test_no_objection_rejected_on_objection() -> None:
    t = run([v("police", AG, 1), v("cpas", OB, 2)], Rule.NO_OBJECTION, now=DEADLINE)
    assert t.state == State.REJECTED
    assert t.objections == (("cpas", None),)


def test_rule_accepts_plain_strings() -> None:
    t = tally(ROOM, [v("police", "agree", 1)], "no-objection", DEADLINE, DEADLINE)  # type: ignore[arg-type]
    assert t.state == State.NO_CONSENSUS
    t = tally(["p"], [v("p", "object", 1)], "unanimity", DEADLINE, T0)  # type: ignore[arg-type]
    assert t.state == State.REJECTED


# --- examples: vote replay --------------------------------------------------


def test_latest_vote_of_any_representative_counts() -> None:
    votes = [v("police", OB, 5, user="@b:x"), v("police", AG, 3, user="@a:x"), v("cpas", AG, 1)]
    t = run(votes)
    assert t.counted["police"].user == "@b:x"
    assert t.state == State.OPEN


def test_ties_in_time_broken_by_seq() -> None:
    votes = [v("police", AG, 5, user="@late:x", seq=9), v("police", OB, 5, user="@early:x", seq=2)]
    t = run(votes, services=("police", "cpas"))
    assert t.counted["police"].user == "@late:x"
    assert run(votes[::-1], services=("police", "cpas")) == t


def test_votes_at_or_after_deadline_are_ignored() -> None:
    late = Vote("cpas", "@c:x", AG, DEADLINE)
    t = run([v("police", AG, 1), v("prison", AG, 2), late], now=DEADLINE + timedelta(hours=1))
    assert t.state == State.NO_CONSENSUS
    assert t.ignored == (late,)


def test_votes_after_closing_are_ignored() -> None:
    votes = [v("police", AG, 1), v("cpas", AG, 2), v("prison", AG, 3), v("police", OB, 4, seq=1)]
    t = run(votes)
    assert t.state == State.ADOPTED
    assert t.ignored == (votes[3],)
    same_time = v("cpas", OB, 3, seq=1)
    assert run(votes[:3] + [same_time]).ignored == (same_time,)


def test_unknown_service_ignored() -> None:
    stranger = v("press", OB, 1)
    t = run([stranger, v("police", AG, 2), v("cpas", AG, 3), v("prison", AG, 4)])
    assert t.state == State.ADOPTED
    assert t.ignored == (stranger,)
    assert "press" not in t.counted


def test_duplicate_room_services_count_once() -> None:
    t = run([v("police", AG, 1), v("cpas", AG, 2)], services=("police", "cpas", "police"))
    assert t.state == State.ADOPTED
    assert t.missing == ()


def test_counted_is_read_only() -> None:
    t = run([v("police", AG, 1)])
    with pytest.raises(TypeError):
        t.counted["x"] = v("x", AG, 1)  # type: ignore[index]


# --- examples: withdrawal and empty room -----------------------------------


def test_withdrawn_dominates() -> None:
    votes = [v("police", AG, 1), v("cpas", AG, 2), v("prison", AG, 3)]
    t = run(votes, withdrawn_at=at(2))
    assert (t.state, t.closed_at) == (State.WITHDRAWN, at(2))
    assert set(t.counted) == {"police"}
    assert run(votes, withdrawn_at=at(100), now=DEADLINE).state == State.WITHDRAWN
    assert run([], withdrawn_at=at(0)).closes_now


def test_empty_room_never_adopted() -> None:
    for rule in Rule:
        assert tally([], [], rule, DEADLINE, T0).state == State.OPEN
        t = tally([], [v("x", AG, 1)], rule, DEADLINE, DEADLINE)
        assert t.state == State.NO_CONSENSUS
        assert len(t.ignored) == 1


# --- examples: reminders ----------------------------------------------------


def test_reminder_24h_before_deadline() -> None:
    assert reminder_due(T0 + timedelta(days=5), T0) == T0 + timedelta(days=4)
    assert reminder_due(T0 + timedelta(hours=48), T0) == T0 + timedelta(hours=24)


def test_reminder_half_time_for_short_spans() -> None:
    assert reminder_due(T0 + timedelta(hours=10), T0) == T0 + timedelta(hours=5)
    assert reminder_due(T0 + timedelta(hours=47), T0) == T0 + timedelta(hours=23.5)


# --- properties -------------------------------------------------------------

POOL = ("police", "cpas", "prison", "youth", "ocam", "mayor")
USERS = ("@a:x", "@b:x", "@c:x")
DL_MIN = 2000  # deadline, in minutes after T0
PROP_DEADLINE = at(DL_MIN)

minutes = st.integers(0, DL_MIN + 200)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[tuple[str, ...], list[Vote], Rule, datetime]:
    room = tuple(draw(st.lists(st.sampled_from(POOL), max_size=5, unique=True)))
    raw = draw(
        st.lists(
            st.tuples(
                st.sampled_from(room + ("press",)),
                st.sampled_from(USERS),
                st.sampled_from(list(Choice)),
                minutes,
                st.sampled_from([None, "why"]),
            ),
            max_size=14,
        )
    )
    seqs = draw(st.permutations(range(len(raw))))
    votes = [Vote(s, u, c, at(m), r, q) for (s, u, c, m, r), q in zip(raw, seqs, strict=True)]
    rule = draw(st.sampled_from(list(Rule)))
    now = at(draw(st.integers(0, DL_MIN + 400)))
    return room, votes, rule, now


def tl(
    room: tuple[str, ...], votes: list[Vote], rule: Rule, now: datetime, **kw: datetime
) -> Tally:
    return tally(room, votes, rule, PROP_DEADLINE, now, **kw)


def outcome(t: Tally) -> tuple[object, ...]:
    return (t.state, dict(t.counted), t.missing, t.objections, t.closed_at)


PROPS = settings(max_examples=150, deadline=None)


@PROPS
@given(scenarios())
def test_prop_closed_with_objection_is_rejected(sc: tuple) -> None:
    t = tl(*sc)
    if t.state not in (State.OPEN, State.WITHDRAWN):
        assert (t.state == State.REJECTED) == bool(t.objections)
        assert t.closed_at is not None


@PROPS
@given(scenarios(), st.randoms(use_true_random=False))
def test_prop_only_latest_vote_per_service_matters(sc: tuple, rnd) -> None:
    room, votes, rule, now = sc
    t = tl(room, votes, rule, now)
    # input order is irrelevant
    shuffled = list(votes)
    rnd.shuffle(shuffled)
    assert outcome(tl(room, shuffled, rule, now)) == outcome(t)
    # only the counted votes matter
    assert outcome(tl(room, list(t.counted.values()), rule, now)) == outcome(t)
    # superseded votes can say anything, by anyone of the service
    counted_ids = {id(x) for x in t.counted.values()}
    ignored_ids = {id(x) for x in t.ignored}
    rewritten = [
        x
        if id(x) in counted_ids | ignored_ids
        else dataclasses.replace(x, choice=rnd.choice(list(Choice)), user=rnd.choice(USERS))
        for x in votes
    ]
    assert outcome(tl(room, rewritten, rule, now)) == outcome(t)
    # more representatives voting between a service's first and counted votes
    extra: list[Vote] = []
    seq = len(votes)
    for service, last in t.counted.items():
        first = min(
            (x for x in votes if x.service == service and id(x) not in ignored_ids),
            key=lambda x: (x.at, x.seq),
        )
        gap = int((last.at - first.at).total_seconds() // 60)
        for _ in range(rnd.randint(0, 3) if gap > 1 else 0):
            seq += 1
            extra.append(
                Vote(
                    service,
                    rnd.choice(USERS),
                    rnd.choice(list(Choice)),
                    first.at + timedelta(minutes=rnd.randint(1, gap - 1)),
                    None,
                    seq,
                )
            )
    assert outcome(tl(room, votes + extra, rule, now)) == outcome(t)


@PROPS
@given(scenarios())
def test_prop_one_vote_per_service(sc: tuple) -> None:
    room = sc[0]
    t = tl(*sc)
    assert len(t.counted) <= len(room)
    assert set(t.counted) <= set(room)
    assert all(vote.service == s for s, vote in t.counted.items())
    assert set(t.counted) | set(t.missing) == set(room)
    assert not set(t.counted) & set(t.missing)


@PROPS
@given(scenarios())
def test_prop_unanimity_never_adopted_with_missing(sc: tuple) -> None:
    room, votes, _, now = sc
    t = tl(room, votes, Rule.UNANIMITY, now)
    if t.missing or not room:
        assert t.state != State.ADOPTED
    if t.state == State.ADOPTED:
        assert all(x.choice != Choice.OBJECT for x in t.counted.values())


@PROPS
@given(
    scenarios(),
    st.lists(
        st.tuples(
            st.sampled_from(POOL + ("press",)), st.sampled_from(list(Choice)), st.integers(0, 500)
        ),
        max_size=5,
    ),
)
def test_prop_votes_after_closing_change_nothing(sc: tuple, late: list) -> None:
    room, votes, rule, now = sc
    for withdrawn in (None, at(700)):
        kw = {} if withdrawn is None else {"withdrawn_at": withdrawn}
        t = tl(room, votes, rule, now, **kw)
        if t.state == State.OPEN:
            continue
        assert t.closed_at is not None
        more = [
            Vote(s, "@z:x", c, t.closed_at + timedelta(minutes=m), None, 1000 + i)
            for i, (s, c, m) in enumerate(late)
        ]
        t2 = tl(room, votes + more, rule, now, **kw)
        assert outcome(t2) == outcome(t)
        assert set(t2.ignored) == set(t.ignored) | set(more)


@PROPS
@given(scenarios(), st.integers(0, DL_MIN + 400))
def test_prop_withdrawn_dominates(sc: tuple, w: int) -> None:
    t = tl(*sc, withdrawn_at=at(w))
    assert t.state == State.WITHDRAWN
    assert t.closed_at == at(w)
    assert t.closes_now
    assert all(x.at < at(w) for x in t.counted.values())
    assert services_to_remind(t) == ()


@PROPS
@given(scenarios(), st.integers(0, 3000))
def test_prop_deterministic_and_monotone(sc: tuple, later: int) -> None:
    room, votes, rule, now = sc
    t = tl(room, votes, rule, now)
    assert tl(room, list(votes), rule, now) == t
    assert t.closes_now == (t.state != State.OPEN)
    t2 = tl(room, votes, rule, now + timedelta(minutes=later))
    if t.state != State.OPEN:
        assert outcome(t2) == outcome(t)
    else:
        assert t.closed_at is None
        assert services_to_remind(t) == t.missing


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 20 * 24 * 60))
def test_prop_reminder_between_creation_and_deadline(start: int, span: int) -> None:
    created = at(start)
    deadline = created + timedelta(minutes=span)
    due = reminder_due(deadline, created)
    assert created < due < deadline
    assert deadline - due <= timedelta(hours=24)


@PROPS
@given(scenarios())
def test_prop_present_rule_counts_like_unanimity(sc: tuple) -> None:
    """The `present` rule differs from unanimity only in the electorate it is given."""
    room, votes, _, now = sc
    assert tl(room, votes, Rule.PRESENT, now) == tl(room, votes, Rule.UNANIMITY, now)


@PROPS
@given(scenarios(), st.lists(st.sampled_from(POOL), max_size=3, unique=True))
def test_prop_services_outside_the_electorate_change_nothing(sc: tuple, outsiders: list) -> None:
    """A fixed electorate: votes of services that joined later are not counted."""
    room, votes, rule, now = sc
    late = [o for o in outsiders if o not in room]
    more = [Vote(o, "@late:x", Choice.OBJECT, at(i), "late", 500 + i) for i, o in enumerate(late)]
    t = tl(room, votes, rule, now)
    t2 = tl(room, votes + more, rule, now)
    assert outcome(t2) == outcome(t)
    assert set(t2.ignored) == set(t.ignored) | set(more)
