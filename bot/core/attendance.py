"""Who was at a meeting: presence marks, RSVPs, and the occurrence a record is about.

A coordinator marks people present (or absent) at one occurrence. Once anyone is marked
present, the marks alone say who is there; before that, whoever answered the RSVP with "yes"
and is not marked absent counts as present, so that a decision can be taken at the start of a
meeting before attendance is taken (and `!meeting absent` undoes a mark made by mistake).
A service is present when one of its representatives is; a service that is not present is
excused when one of its representatives answered the RSVP with "no", and absent otherwise.
This module is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.core.electorate import Roster
from bot.core.recurrence import Occurrence, Series, next_occurrences, occurrences

__all__ = ["Attendance", "Presence", "attendance", "present_services", "present_users",
           "recorded_occurrence"]

# How far back to look for the last occurrence held: widening spans keep the usual case
# (a meeting this week) cheap and still find a one-off meeting of years ago.
_LOOK_BACK = (timedelta(days=8), timedelta(days=100), timedelta(days=800),
              timedelta(days=8000))


class Presence(StrEnum):
    PRESENT = "present"
    EXCUSED = "excused"
    ABSENT = "absent"


@dataclass(frozen=True)
class Attendance:
    """Who attended one occurrence, per service.

    ``services`` maps each service of the room to its presence, in room order;
    ``present`` holds the people counted present (by mark or RSVP) and ``from_rsvps`` says
    whether they come from the RSVPs because nobody was marked present.
    """

    services: Mapping[str, Presence]
    present: frozenset[str]
    from_rsvps: bool


def present_users(marks: Mapping[str, bool], rsvps: Mapping[str, str]) -> frozenset[str]:
    """The people present: the marks once anyone is marked present, else the RSVPs
    answered yes, less those marked absent.

    ``marks`` maps a user to True (present) or False (absent); ``rsvps`` a user to
    ``yes``, ``no`` or ``maybe``.
    """
    marked = frozenset(user for user, here in marks.items() if here)
    if marked:
        return marked
    return frozenset(user for user, answer in rsvps.items()
                     if answer == "yes" and marks.get(user) is not False)


def present_services(room: Roster, marks: Mapping[str, bool],
                     rsvps: Mapping[str, str]) -> tuple[str, ...]:
    """The services with a representative present, in room order."""
    here = present_users(marks, rsvps)
    return tuple(service for service, users in room.items() if here.intersection(users))


def attendance(room: Roster, marks: Mapping[str, bool],
               rsvps: Mapping[str, str]) -> Attendance:
    here = present_users(marks, rsvps)
    declined = {user for user, answer in rsvps.items() if answer == "no"}

    def presence(users) -> Presence:
        if here.intersection(users):
            return Presence.PRESENT
        return Presence.EXCUSED if declined.intersection(users) else Presence.ABSENT

    return Attendance({service: presence(users) for service, users in room.items()},
                      here, from_rsvps=not any(marks.values()))


def _last_started(series: Series, now: datetime) -> Occurrence | None:
    for span in _LOOK_BACK:
        found = occurrences(series, now - span, now + timedelta(microseconds=1))
        if found:
            return found[-1]
    return None


def recorded_occurrence(series: Series, now: datetime) -> Occurrence | None:
    """The occurrence that attendance, a proposal at a meeting or minutes are about when
    no date is given: the one in progress, else the next one if it starts later the same
    day (in the meeting's zone), else the last one that took place; None if none did."""
    last = _last_started(series, now)
    if last is not None and last.end.astimezone(UTC) > now:
        return last
    upcoming = next_occurrences(series, now, 1)
    if upcoming:
        today = now.astimezone(upcoming[0].start.tzinfo).date()
        if upcoming[0].start.date() == today:
            return upcoming[0]
    return last
