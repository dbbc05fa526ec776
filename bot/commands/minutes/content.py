"""What the minutes of one occurrence say, as plain values.

The command and the command line gather these from the database; the document and the summary
message are made from them alone. Texts are strings as typed in the room, or translatable
messages (`Msg`) where the bot words them (a room kind, a proposal's subject, a vote); both are
rendered, and guarded against personal data, only when the document is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from bot.core.attendance import Presence


class ItemStatus(StrEnum):
    TREATED = "treated"
    CARRIED = "carried"  # carried over to a later meeting, untreated
    OPEN = "open"  # neither treated nor carried (yet)


@dataclass(frozen=True)
class ServiceAttendance:
    service: str
    presence: Presence
    people: tuple[str, ...]  # its representatives counted present


@dataclass(frozen=True)
class AgendaEntry:
    position: int
    title: str
    presenter: str | None
    minutes: int | None
    status: ItemStatus
    carried_to: datetime | None = None  # the start of the occurrence it was carried to


@dataclass(frozen=True)
class VoteEntry:
    service: str
    choice: Any | None  # the vote's label; None: the service did not vote
    reason: str | None = None


@dataclass(frozen=True)
class DecisionEntry:
    short_id: str
    subject: Any  # what was decided, in words
    rule: Any
    outcome: Any
    closed_at: datetime | None  # local time; None while still open
    votes: tuple[VoteEntry, ...]  # every service of its electorate, in order
    absent: tuple[str, ...] = ()  # services of the room absent from the meeting
    at_meeting: bool = True  # made at this occurrence, or only closed on its day


@dataclass(frozen=True)
class ActionEntry:
    short_id: str
    owner: str
    text: str
    due: date | None


@dataclass(frozen=True)
class Minutes:
    body: Any  # the kind of body (a CSIL-R, a local taskforce…)
    room_name: str
    meeting: str  # the meeting's short id, e.g. M3
    title: str
    start: datetime  # aware, in the meeting's zone
    end: datetime
    place: str | None
    attendance: tuple[ServiceAttendance, ...]
    others_present: tuple[str, ...]  # people present who represent no service
    from_rsvps: bool  # nobody was marked: presence is taken from the RSVPs
    agenda: tuple[AgendaEntry, ...]
    decisions: tuple[DecisionEntry, ...]
    actions: tuple[ActionEntry, ...]
    made_at: datetime  # aware, in the meeting's zone

    @property
    def day(self) -> date:
        return self.start.date()
