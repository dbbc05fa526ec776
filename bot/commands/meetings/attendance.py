"""Who attends: `!meeting attendees` (the RSVPs and the presence marks, per service) and
`!meeting present|absent`, which a coordinator uses to take attendance at the meeting.

Marking is for an occurrence that has begun or begins today; the marks are audited. Which
occurrence, when no date is given: see `bot.core.attendance.recorded_occurrence`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.commands.converters import Date, ShortId, UserIds
from bot.commands.framework import Context, Flag, Param, Registry, Role, UserError
from bot.commands.meetings.commands import find_meeting
from bot.commands.meetings.texts import Joined, attendance_blocks
from bot.core.attendance import present_services, recorded_occurrence
from bot.core.recurrence import Occurrence, find_occurrence, next_occurrences
from bot.i18n import When
from bot.i18n import _ as N_
from bot.reply import Mention, Reply
from bot.storage import meetings as store
from bot.storage import occurrences, rooms
from bot.storage.db import Session
from bot.storage.meetings import Meeting
from bot.storage.proposals import audit


def register(r: Registry) -> None:
    mid = Param("meeting", ShortId("M"))
    on = Flag("date", Date())
    people = Param("users", UserIds(), rest=True)
    r.command("meeting attendees", summary=N_("who answered what and who is present, per "
                                              "service"),
              params=[mid], flags=[on])(attendees)
    r.command("meeting present", summary=N_("mark people present at a meeting (today's, the "
                                            "one in progress, or the given one)"),
              params=[mid, people], flags=[on], role=Role.COORDINATOR)(present)
    r.command("meeting absent", summary=N_("mark people absent (undoes present)"),
              params=[mid, people], flags=[on], role=Role.COORDINATOR)(absent)


def _no_occurrence(meeting: Meeting, on: date) -> UserError:
    return UserError(N_("Meeting {id} has no occurrence on {day}.", id=meeting.short_id,
                        day=When(on, "date")), show_usage=False)


def held(ctx: Context, number: int, on: date | None) -> tuple[Meeting, Occurrence]:
    """The meeting M<number> and the occurrence a record is about (see `held_occurrence`)."""
    meeting = find_meeting(ctx, number, live=False)  # a record may be of the past
    return meeting, held_occurrence(ctx.session, meeting, ctx.now, on)


def on_a_later_day(occ: Occurrence, now: datetime) -> bool:
    """Whether the occurrence is on a day after today (in its own zone): nobody can be
    there yet, so neither attendance nor a decision among those present can be taken."""
    return occ.start.date() > now.astimezone(occ.start.tzinfo).date()


def held_occurrence(s: Session, meeting: Meeting, now: datetime,
                    on: date | None) -> Occurrence:
    """The occurrence on the given date, else the one in progress or later today, else the
    last one held."""
    series = store.load_series(s, meeting)
    occurrence = recorded_occurrence(series, now) if on is None else find_occurrence(series, on)
    if occurrence is not None:
        return occurrence
    if on is not None:
        raise _no_occurrence(meeting, on)
    raise UserError(N_("Meeting {id} has not taken place yet and is not held today: say "
                       "which occurrence with --date <date>.", id=meeting.short_id))


def attendees(ctx: Context, meeting: int, date: date | None) -> Reply:
    row = find_meeting(ctx, meeting)
    series = store.load_series(ctx.session, row)
    if date is not None:
        occurrence = find_occurrence(series, date)
        if occurrence is None:
            raise _no_occurrence(row, date)
    else:  # the one in progress, else the next one
        current = recorded_occurrence(series, ctx.now)
        coming = next_occurrences(series, ctx.now, 1)
        if current is not None and current.start <= ctx.now < current.end.astimezone(UTC):
            occurrence = current
        elif coming:
            occurrence = coming[0]
        else:
            raise UserError(N_("Meeting {id} has no occurrence to come.", id=row.short_id),
                            show_usage=False)
    reply = Reply([N_("**{id} — {title}**, {when}", id=row.short_id, title=row.title,
                      when=When(occurrence.start, "weekday-datetime"))])
    reply.add(*attendance_blocks(ctx.session, ctx.room, row, occurrence,
                                 ctx.config.matrix.user_id))
    return reply


def present(ctx: Context, meeting: int, users: tuple[str, ...], date: date | None) -> Reply:
    return _mark(ctx, meeting, users, date, True)


def absent(ctx: Context, meeting: int, users: tuple[str, ...], date: date | None) -> Reply:
    return _mark(ctx, meeting, users, date, False)


def _mark(ctx: Context, number: int, users: tuple[str, ...], on: date | None,
          here: bool) -> Reply:
    strangers = [u for u in users if u not in ctx.members]
    if strangers:
        raise UserError(N_("{user} is not a member of this room.", user=strangers[0]),
                        show_usage=False)
    meeting, occ = held(ctx, number, on)
    if on_a_later_day(occ, ctx.now):
        raise UserError(N_("Meeting {id} of {when} has not begun: attendance is taken on the "
                           "day of the meeting.", id=meeting.short_id,
                           when=When(occ.start, "weekday-datetime")), show_usage=False)
    s, room = ctx.session, ctx.room
    occurrences.mark(s, meeting.id, occ.original, users, here, ctx.sender, ctx.now)
    s.flush()
    audit(s, room, "marked-present" if here else "marked-absent", ctx.now, user=ctx.sender,
          service=rooms.service_of(s, room, ctx.sender), meeting=meeting.short_id,
          occurrence=occ.original.isoformat(), users=list(users))
    roster = rooms.services(s, room)
    services = present_services(roster, occurrences.marks(s, meeting.id, occ.original),
                                store.rsvps(s, meeting, occ.original))
    people = Joined(tuple(Mention(u) for u in users))
    when = When(occ.start, "weekday-datetime")
    reply = Reply([N_("Present at {id} ({title}) of {when}: {people}.", id=meeting.short_id,
                      title=meeting.title, when=when, people=people) if here else
                   N_("Absent from {id} ({title}) of {when}: {people}.", id=meeting.short_id,
                      title=meeting.title, when=when, people=people)])
    reply.add(N_("Services present: {services} ({count} of {total}).",
                 services=", ".join(services) or "—", count=len(services), total=len(roster)))
    return reply
