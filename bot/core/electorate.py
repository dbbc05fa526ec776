"""Who votes on a proposal: its electorate, fixed when the proposal opens.

The services that decide a proposal are the ones that could decide it when it opened, each
with the representatives it had then. Later changes to the room do not move the electorate:
a service added afterwards has no vote on the proposal, and one removed afterwards keeps its
vote, cast by the representatives it had. Someone who has since come to represent a voting
service (a colleague taking over) may cast that service's vote too; someone recorded for one
service votes for that service only, whatever they represent now, so nobody gains a vote by
changing service in the middle of a vote.

Under the ``present`` rule only the services present at the proposal's meeting vote (see
``bot.core.attendance``); the others are kept as ``absent``, so that the outcome can name
them. This module is pure: plain values in, plain values out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Electorate", "NoVote", "Roster", "open_electorate", "voting_service",
           "who_may_vote"]

# service -> its representatives (Matrix user ids), in the room's order
Roster = Mapping[str, Sequence[str]]
Entry = tuple[str, tuple[str, ...]]


class NoVote(StrEnum):
    """Why someone has no vote on a proposal."""

    NO_SERVICE = "no-service"  # represents no service, now or when it opened
    ABSENT = "absent"  # their service was not present at the meeting
    LATER = "later"  # their service joined the room after the proposal opened


@dataclass(frozen=True)
class Electorate:
    """The voting services with their representatives, and the services left out as absent."""

    voters: tuple[Entry, ...]
    absent: tuple[Entry, ...] = ()

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(service for service, _ in self.voters)

    @property
    def absent_services(self) -> tuple[str, ...]:
        return tuple(service for service, _ in self.absent)

    def recorded(self) -> dict[str, str]:
        """user -> the service they were recorded for (voting or absent)."""
        return {user: service for service, users in self.voters + self.absent
                for user in users}


def _entries(room: Roster, names: Collection[str], keep: bool) -> tuple[Entry, ...]:
    return tuple((service, tuple(dict.fromkeys(users))) for service, users in room.items()
                 if (service in names) == keep)


def open_electorate(room: Roster, present: Collection[str] | None = None) -> Electorate:
    """The electorate of a proposal opening now.

    ``room`` is the room's services at this moment. With ``present`` (the ``present`` rule)
    only those services vote and the room's other services are absent; an empty
    ``voters`` then means nobody can decide, which the caller refuses.
    """
    if present is None:
        return Electorate(_entries(room, room.keys(), True))
    return Electorate(_entries(room, present, True), _entries(room, present, False))


def voting_service(e: Electorate, user: str, current: str | None) -> str | NoVote:
    """The service ``user`` votes for on this proposal, or why they have no vote.

    ``current`` is the service the user represents in the room now (or None).
    """
    voting = set(e.services)
    recorded = e.recorded().get(user)
    if recorded is not None:
        return recorded if recorded in voting else NoVote.ABSENT
    if current is None:
        return NoVote.NO_SERVICE
    if current in voting:
        return current
    return NoVote.ABSENT if current in e.absent_services else NoVote.LATER


def who_may_vote(e: Electorate, room: Roster) -> dict[str, tuple[str, ...]]:
    """Per voting service, everyone who may cast its vote now: the representatives it had
    when the proposal opened, then those who represent it in the room now (``room``) and
    were recorded for no service of this proposal."""
    recorded = e.recorded()
    return {service: tuple(dict.fromkeys(
        [*users, *(u for u in room.get(service, ()) if u not in recorded)]))
        for service, users in e.voters}
