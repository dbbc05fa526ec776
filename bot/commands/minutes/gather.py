"""The content of one occurrence's minutes, read from what the bot holds: the room and its
services, the RSVPs and presence marks, the agenda (with the items carried away from it), the
proposals made at it or closed on its day, and the actions given during it."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from bot.commands.minutes.content import (
    ActionEntry,
    AgendaEntry,
    DecisionEntry,
    ItemStatus,
    Minutes,
    ServiceAttendance,
    VoteEntry,
)
from bot.commands.proposals.electorate import RULE_LABELS, electorate_of
from bot.commands.proposals.flow import current_tally
from bot.commands.proposals.texts import CHOICE_LABELS, STATE_LABELS, subject
from bot.commands.rooms.commands import KIND_LABELS
from bot.core.attendance import attendance
from bot.core.recurrence import Occurrence, to_aware
from bot.storage import agenda as agenda_store
from bot.storage import meetings as meeting_store
from bot.storage import occurrences, rooms
from bot.storage.db import Session
from bot.storage.meetings import Meeting
from bot.storage.models import Room
from bot.storage.proposals import Proposal


def gather(s: Session, room: Room, meeting: Meeting, occ: Occurrence, now: datetime) -> Minutes:
    roster = rooms.services(s, room)
    marks = occurrences.marks(s, meeting.id, occ.original)
    seen = attendance(roster, marks, meeting_store.rsvps(s, meeting, occ.original))
    represented = {u for users in roster.values() for u in users}
    zone = occ.start.tzinfo
    return Minutes(
        body=KIND_LABELS[room.kind], room_name=room.name, meeting=meeting.short_id,
        title=meeting.title, start=occ.start, end=occ.end.astimezone(zone), place=meeting.place,
        attendance=tuple(ServiceAttendance(service, seen.services[service],
                                           tuple(u for u in users if u in seen.present))
                         for service, users in roster.items()),
        others_present=tuple(sorted(seen.present - represented)), from_rsvps=seen.from_rsvps,
        agenda=_agenda(s, meeting, occ), decisions=_decisions(s, room, meeting, occ, now),
        actions=tuple(ActionEntry(a.short_id, a.owner, a.text, a.due)
                      for a in occurrences.actions_given(s, room, occ.start, occ.end)),
        made_at=now.astimezone(zone))


def _agenda(s: Session, meeting: Meeting, occ: Occurrence) -> tuple[AgendaEntry, ...]:
    """The items still on the occurrence and those carried away from it, in agenda order."""
    rows = [(item.position, 0, AgendaEntry(0, item.title, item.presenter, item.minutes,
                                           ItemStatus.TREATED if item.done else ItemStatus.OPEN))
            for item in agenda_store.items_of(s, meeting.id, occ.original)]
    for carry, item in occurrences.carried_from(s, meeting.id, occ.original):
        target = s.get(Meeting, carry.to_meeting_id)
        series = meeting_store.load_series(s, target)
        start = to_aware(series.moved.get(carry.to_original, carry.to_original), series.tz)
        rows.append((carry.position, 1, AgendaEntry(0, item.title, item.presenter, item.minutes,
                                                    ItemStatus.CARRIED, start)))
    rows.sort(key=lambda row: row[:2])
    return tuple(AgendaEntry(n, e.title, e.presenter, e.minutes, e.status, e.carried_to)
                 for n, (_, _, e) in enumerate(rows, 1))


def _day(occ: Occurrence, tz: str) -> tuple[datetime, datetime]:
    """The calendar day of the occurrence in its zone, as [start, end)."""
    day = occ.start.date()
    return (to_aware(datetime.combine(day, time()), tz),
            to_aware(datetime.combine(day + timedelta(days=1), time()), tz))


def _decisions(s: Session, room: Room, meeting: Meeting, occ: Occurrence,
               now: datetime) -> tuple[DecisionEntry, ...]:
    return tuple(_decision(s, room, p, meeting, occ, now)
                 for p in occurrences.decisions(s, room, meeting.id, occ.original,
                                                _day(occ, meeting.tz)))


def _decision(s: Session, room: Room, p: Proposal, meeting: Meeting, occ: Occurrence,
              now: datetime) -> DecisionEntry:
    e = electorate_of(s, p, room)
    counted = current_tally(s, p, room, now).counted
    votes = tuple(VoteEntry(service, CHOICE_LABELS[counted[service].choice],
                            counted[service].reason) if service in counted
                  else VoteEntry(service, None) for service in e.services)
    zone = occ.start.tzinfo
    return DecisionEntry(
        p.short_id, subject(p), RULE_LABELS[p.rule], STATE_LABELS[p.state],
        p.closed_at.astimezone(zone) if p.closed_at else None, votes, e.absent_services,
        at_meeting=p.meeting_id == meeting.id and p.occurrence == occ.original)
