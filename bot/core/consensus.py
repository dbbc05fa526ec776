"""Consensus decisions of a coordination room: one vote per service.

A local taskforce decides by consensus whether a person's data is entered in
the Joint Information Box.  Every service of the proposal's electorate has one
vote, whoever of its representatives casts it.  The electorate is fixed when
the proposal opens (see ``bot.core.electorate``): the room's services then, or
under ``PRESENT`` only those present at the meeting.  This module is pure: it
takes the electorate, the votes recorded so far and the clock, and computes the
state of the proposal.  It holds no state and produces no user-facing text.

Replay rules
------------
* Votes are replayed in ``(at, seq)`` order (input order breaks exact ties).
* A vote from a service that is not in the electorate is ignored.
* A service's latest vote in replay order replaces its earlier ones, so an
  early objection can be withdrawn until the proposal closes.
* The proposal closes at the first vote that gives every service of the
  electorate a counted vote (``closed_at`` is that vote's time), or at the deadline when
  that comes first and ``now >= deadline``.  Votes replayed after the closing
  vote, and every vote at or after the deadline, are ignored.
* With zero services the proposal can never close early nor be adopted; at the
  deadline it is ``NO_CONSENSUS``.

Outcome
-------
* Any counted objection in a closed proposal makes it ``REJECTED``.
* ``UNANIMITY``: ``ADOPTED`` only when every service voted and none objected;
  at the deadline with a missing service it is ``NO_CONSENSUS``.
* ``PRESENT`` (consensus of the services present at a meeting) counts exactly
  like ``UNANIMITY``: it differs only in the electorate it is given.
* ``NO_OBJECTION``: at the deadline, ``ADOPTED`` when no service objected and
  at least half of the electorate voted (abstaining counts as voting),
  otherwise ``NO_CONSENSUS``.  When every service voted before the deadline it
  closes at once, like under unanimity.
* ``withdrawn_at`` makes the proposal ``WITHDRAWN`` whatever the votes say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "Choice",
    "Rule",
    "State",
    "Tally",
    "Vote",
    "reminder_due",
    "services_to_remind",
    "tally",
]


class Rule(StrEnum):
    UNANIMITY = "unanimity"
    NO_OBJECTION = "no-objection"
    PRESENT = "present"


class Choice(StrEnum):
    AGREE = "agree"
    OBJECT = "object"
    ABSTAIN = "abstain"


class State(StrEnum):
    OPEN = "open"
    ADOPTED = "adopted"
    REJECTED = "rejected"
    NO_CONSENSUS = "no-consensus"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Vote:
    """One vote cast by ``user`` on behalf of ``service``."""

    service: str
    user: str
    choice: Choice
    at: datetime
    reason: str | None = None
    seq: int = 0


@dataclass(frozen=True)
class Tally:
    """The state of a proposal at one moment.

    ``counted`` maps each service to the vote that counts for it.
    ``missing`` lists the electorate's services without a counted vote, in
    electorate order; ``objections`` the ``(service, reason)`` pairs of counted
    objections, in electorate order (also while the proposal is open).
    ``closed_at`` is the closing vote's time, the deadline, or the withdrawal
    time; ``None`` while open.  ``ignored`` holds the votes that were not
    counted (unknown service, or cast at or after closing), in replay order.

    ``closes_now`` is simply ``state != OPEN``: a tally is recomputed from
    scratch and cannot know whether the outcome was already announced.  The
    caller records the closed state and posts the outcome only once.
    """

    state: State
    counted: Mapping[str, Vote]
    missing: tuple[str, ...]
    objections: tuple[tuple[str, str | None], ...]
    closed_at: datetime | None
    closes_now: bool
    ignored: tuple[Vote, ...]


def _replay(
    services: Sequence[str], votes: Sequence[Vote], cutoff: datetime
) -> tuple[dict[str, Vote], datetime | None, list[Vote]]:
    """Replay votes strictly before ``cutoff``; stop when every service voted.

    Returns the counted votes, the time of the vote that completed the electorate
    (``None`` if it never became complete) and the ignored votes.
    """
    known = set(services)
    counted: dict[str, Vote] = {}
    ignored: list[Vote] = []
    complete_at: datetime | None = None
    for vote in sorted(votes, key=lambda v: (v.at, v.seq)):
        if vote.service not in known or complete_at is not None or vote.at >= cutoff:
            ignored.append(vote)
            continue
        counted[vote.service] = vote
        if len(counted) == len(known):
            complete_at = vote.at
    return counted, complete_at, ignored


def _outcome(rule: Rule, n_services: int, counted: Mapping[str, Vote], complete: bool) -> State:
    """Final state of a closed (not withdrawn) proposal."""
    if any(v.choice == Choice.OBJECT for v in counted.values()):
        return State.REJECTED
    if n_services == 0:
        return State.NO_CONSENSUS
    if complete:
        return State.ADOPTED
    if rule is Rule.NO_OBJECTION and 2 * len(counted) >= n_services:
        return State.ADOPTED
    return State.NO_CONSENSUS


def tally(
    services: Sequence[str],
    votes: Sequence[Vote],
    rule: Rule,
    deadline: datetime,
    now: datetime,
    withdrawn_at: datetime | None = None,
) -> Tally:
    """Compute the state of a proposal at ``now`` (see the module docstring).

    ``services`` is the proposal's electorate; duplicates are counted once.
    The result depends only on the arguments, and once a proposal is closed
    at some ``now`` it stays closed with the same outcome at any later ``now``.
    Votes time-stamped after ``now`` are taken as they are: the clock only
    decides whether the deadline has passed.
    """
    rule = Rule(rule)
    electorate = tuple(dict.fromkeys(services))
    cutoff = deadline if withdrawn_at is None else min(deadline, withdrawn_at)
    counted, complete_at, ignored = _replay(electorate, votes, cutoff)

    closed_at: datetime | None
    if withdrawn_at is not None:
        state, closed_at = State.WITHDRAWN, withdrawn_at
    elif complete_at is not None:
        state, closed_at = _outcome(rule, len(electorate), counted, True), complete_at
    elif now >= deadline:
        state, closed_at = _outcome(rule, len(electorate), counted, False), deadline
    else:
        state, closed_at = State.OPEN, None

    ordered = {s: counted[s] for s in electorate if s in counted}
    return Tally(
        state=state,
        counted=MappingProxyType(ordered),
        missing=tuple(s for s in electorate if s not in counted),
        objections=tuple((s, v.reason) for s, v in ordered.items() if v.choice == Choice.OBJECT),
        closed_at=closed_at,
        closes_now=state is not State.OPEN,
        ignored=tuple(ignored),
    )


_DAY = timedelta(hours=24)


def reminder_due(deadline: datetime, created: datetime) -> datetime:
    """When to remind the services that have not voted yet.

    24 hours before the deadline; when the proposal runs for less than
    48 hours, half-way between creation and the deadline.
    """
    span = deadline - created
    if span < 2 * _DAY:
        return created + span / 2
    return deadline - _DAY


def services_to_remind(t: Tally) -> tuple[str, ...]:
    """The services still to vote on an open proposal; none once closed."""
    return t.missing if t.state is State.OPEN else ()
