"""The commands of meetings: `!meeting add|list|cancel|move|ics`, `!rsvp`."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from bot.commands.converters import Choice, Date, Duration, ShortId, Text, Time
from bot.commands.framework import Context, Converter, Flag, Param, Registry, Role, UserError
from bot.commands.meetings.texts import (
    ANSWERS,
    Joined,
    answer_counts,
    calendar_file,
    occurrence_line,
    recurrence_message,
    rule_label,
)
from bot.core.recurrence import (
    Occurrence,
    RecurrenceError,
    Series,
    find_occurrence,
    next_occurrences,
    normalize_rule,
    occurrences,
    to_aware,
    validate_new_series,
)
from bot.core.reminders import series_end
from bot.i18n import Plural, When
from bot.i18n import _ as N_
from bot.reply import Bullets, Mention, Reply
from bot.storage import agenda as agenda_store
from bot.storage import meetings as store
from bot.storage import rooms
from bot.storage.meetings import Meeting

DEFAULT_DURATION = timedelta(hours=1)
LIST_LIMIT = 10


class Repeat(Converter):
    label = N_("rule")

    def convert(self, text: str, ctx: Context) -> str:
        try:
            return normalize_rule(text) or ""
        except RecurrenceError as err:
            raise UserError(recurrence_message(err, ctx.prefix)) from None


def register(r: Registry) -> None:
    mid = Param("meeting", ShortId("M"))
    on = Flag("date", Date())
    r.command("meeting add", summary=N_("schedule a meeting or a series"),
              params=[Param("day", Date()), Param("at", Time()),
                      Param("title", Text(N_("title"), max_length=200), rest=True)],
              flags=[Flag("duration", Duration(maximum=timedelta(days=2))),
                     Flag("repeat", Repeat()), Flag("place", Text(N_("place"), 200))],
              role=Role.COORDINATOR)(add)
    r.command("meeting list", summary=N_("the next meetings"))(list_meetings)
    r.command("meeting cancel", summary=N_("cancel one occurrence (--date) or the whole series"),
              params=[mid], flags=[on], role=Role.COORDINATOR)(cancel)
    r.command("meeting move", summary=N_("reschedule one occurrence or a one-off meeting"),
              params=[mid, Param("day", Date()), Param("at", Time())], flags=[on],
              role=Role.COORDINATOR)(move)
    r.command("meeting ics", summary=N_("a calendar file (.ics) of the meeting or series"),
              params=[mid])(ics)
    r.command("rsvp", summary=N_("say whether you attend the next (or given) occurrence"),
              params=[mid, Param("answer", Choice(*ANSWERS))], flags=[on])(rsvp)


# ---- helpers ---------------------------------------------------------------------------

def find_meeting(ctx: Context, number: int, *, live: bool = True) -> Meeting:
    """The room's meeting M<number>; an id of another room reads as unknown."""
    store.note_members(ctx.session, ctx.room, ctx.members, ctx.now)
    meeting = store.get_meeting(ctx.session, ctx.room, number)
    if meeting is None:
        raise UserError(N_("There is no meeting M{number} in this room.", number=number),
                        show_usage=False)
    if live and meeting.cancelled:
        raise UserError(N_("Meeting {id} is cancelled.", id=meeting.short_id),
                        show_usage=False)
    return meeting


def pick_occurrence(ctx: Context, meeting: Meeting, series: Series,
                    on: date | None) -> Occurrence:
    """The next occurrence to come, or the one on (originally or moved to) a given date."""
    if on is None:
        found = next_occurrences(series, ctx.now, 1)
        if not found:
            raise UserError(N_("Meeting {id} has no occurrence to come.", id=meeting.short_id),
                            show_usage=False)
        return found[0]
    occurrence = find_occurrence(series, on)
    if occurrence is None:
        raise UserError(N_("Meeting {id} has no occurrence on {day}.", id=meeting.short_id,
                           day=When(on, "date")), show_usage=False)
    if occurrence.start <= ctx.now:
        raise UserError(N_("Meeting {id} of {day} has already started.",
                           id=meeting.short_id, day=When(on, "date")), show_usage=False)
    return occurrence


# ---- commands --------------------------------------------------------------------------

def add(ctx: Context, day: date, at: time, title: str, duration: timedelta | None,
        repeat: str | None, place: str | None) -> Reply:
    room = ctx.room
    store.note_members(ctx.session, room, ctx.members, ctx.now)
    series = Series(datetime.combine(day, at), room.timezone, duration or DEFAULT_DURATION,
                    repeat or None)
    try:
        validate_new_series(series, ctx.now)
    except RecurrenceError as err:
        raise UserError(recurrence_message(err, ctx.prefix)) from None
    number = rooms.next_number(ctx.session, room, "M")
    meeting = Meeting(room_id=room.id, number=number, title=title, start=series.start,
                      tz=series.tz, duration=int(series.duration.total_seconds()), place=place,
                      rule=series.rule, sequence=0, uid=f"{uuid.uuid4()}@coordbot",
                      created_by=ctx.sender, created_at=ctx.now, cancelled=False,
                      last_end=series_end(series))
    store.add_meeting(ctx.session, meeting)
    first = next_occurrences(series, ctx.now, 3)
    reply = Reply([N_("Meeting **{id}** scheduled: {title}.", id=meeting.short_id,
                      title=title)])
    lines = [N_("When: {when}", when=When(first[0].start, "weekday-datetime"))]
    if series.rule:
        lines.append(N_("Repeats: {rule}", rule=rule_label(series.rule)))
        lines.append(N_("Next: {dates}", dates=Joined(
            tuple(When(o.start, "date") for o in first))))
    if place:
        lines.append(N_("Place: {place}", place=place))
    reply.add(Bullets(tuple(lines)))
    if first[0].start - timedelta(seconds=room.agenda_deadline) <= ctx.now:
        reply.add(N_("Its agenda deadline has already passed: there will be no final agenda "
                     "post, and only coordinators can add items (marked late)."))
    reply.add(N_("Answer with {prefix}rsvp {id} yes|no|maybe.", prefix=ctx.prefix,
                 id=meeting.short_id))
    return reply


def upcoming(ctx: Context, limit: int) -> list[tuple[Meeting, Occurrence]]:
    """The room's next occurrences, all meetings together, soonest first."""
    meetings = store.room_meetings(ctx.session, ctx.room)
    changes = store.changes_of(ctx.session, [m.id for m in meetings])
    found = []
    for meeting in meetings:
        series = store.series_of(meeting, changes[meeting.id])
        found += [(o.start, meeting.number, meeting, o)
                  for o in next_occurrences(series, ctx.now, limit)]
    found.sort(key=lambda row: row[:2])
    return [(m, o) for _, _, m, o in found[:limit]]


def list_meetings(ctx: Context) -> Reply:
    store.note_members(ctx.session, ctx.room, ctx.members, ctx.now)
    found = upcoming(ctx, LIST_LIMIT)
    if not found:
        return Reply([N_("No meetings to come. A coordinator can add one with "
                         "{prefix}meeting add <date> <time> <title>.", prefix=ctx.prefix)])
    return Reply([N_("**Next meetings:**"), Bullets(tuple(
        occurrence_line(m, o) for m, o in found))])


def cancel(ctx: Context, meeting: int, date: date | None) -> Reply:
    row = find_meeting(ctx, meeting)
    if date is None:
        row.cancelled = True
        store.changed(ctx.session, row)
        return Reply([N_("Meeting **{id}** ({title}) is cancelled, with all its occurrences.",
                         id=row.short_id, title=row.title)])
    series = store.load_series(ctx.session, row)
    occurrence = pick_occurrence(ctx, row, series, date)
    change = store.occurrence_change(ctx.session, row, occurrence.original, by=ctx.sender,
                                     at=ctx.now)
    change.cancelled, change.new_start = True, None
    store.changed(ctx.session, row)
    reply = Reply([N_("Meeting **{id}** ({title}) of {when} is cancelled.", id=row.short_id,
                      title=row.title, when=When(occurrence.start, "weekday-datetime"))])
    items = len(agenda_store.items_of(ctx.session, row.id, occurrence.original))
    if items:
        reply.add(Plural("Its agenda ({n} item) is cancelled with it: a coordinator can carry "
                         "it to the next meeting with {prefix}agenda carry all.",
                         "Its agenda ({n} items) is cancelled with it: a coordinator can carry "
                         "them to the next meeting with {prefix}agenda carry all.",
                         items, prefix=ctx.prefix))
    return reply


def move(ctx: Context, meeting: int, day: date, at: time, date: date | None) -> Reply:
    row = find_meeting(ctx, meeting)
    series = store.load_series(ctx.session, row)
    if date is None and series.rule:
        raise UserError(N_("Meeting {id} repeats: say which occurrence with --date "
                           "<original date>.", id=row.short_id))
    occurrence = pick_occurrence(ctx, row, series, date or series.start.date())
    new = datetime.combine(day, at)
    start = to_aware(new, series.tz)
    if start <= ctx.now:
        raise UserError(N_("{when} is in the past: pick a date and time to come.",
                           when=When(start, "weekday-datetime")))
    clash = [o for o in occurrences(series, start, start + timedelta(seconds=1))
             if o.original != occurrence.original]
    if clash:
        raise UserError(N_("Meeting {id} already takes place at {when}.", id=row.short_id,
                           when=When(start, "weekday-datetime")), show_usage=False)
    change = store.occurrence_change(ctx.session, row, occurrence.original, by=ctx.sender,
                                     at=ctx.now)
    change.new_start = new
    store.forget_reminders(ctx.session, row, occurrence.original)
    agenda_store.forget_posts(ctx.session, row.id, occurrence.original)
    store.changed(ctx.session, row)
    return Reply([N_("Meeting **{id}** ({title}) moved from {old} to {new}.", id=row.short_id,
                     title=row.title, old=When(occurrence.start, "weekday-datetime"),
                     new=When(start, "weekday-datetime"))])


def ics(ctx: Context, meeting: int) -> Reply:
    row = find_meeting(ctx, meeting, live=False)
    attachment = calendar_file(row, store.load_series(ctx.session, row), ctx.room, ctx.now)
    reply = Reply([N_("Calendar file of meeting **{id}** ({title}).", id=row.short_id,
                      title=row.title)])
    reply.attachment = attachment
    return reply


def rsvp(ctx: Context, meeting: int, answer: str, date: date | None) -> Reply:
    row = find_meeting(ctx, meeting)
    occurrence = pick_occurrence(ctx, row, store.load_series(ctx.session, row), date)
    store.set_rsvp(ctx.session, row, occurrence.original, ctx.sender, answer, ctx.now)
    counts = answer_counts(store.rsvps(ctx.session, row, occurrence.original))
    return Reply([N_("Noted: {user} — {answer} for {id} ({title}) of {when}.",
                     user=Mention(ctx.sender), answer=ANSWERS[answer], id=row.short_id,
                     title=row.title, when=When(occurrence.start, "weekday-datetime")),
                  counts])
