"""What the bot says about meetings: lines, attendance, reminders, calendar files, errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from icalendar import Calendar

from bot.commands.family import ReminderExtra
from bot.core.attendance import present_services
from bot.core.ics import series_to_ics
from bot.core.recurrence import PRESETS, Occurrence, RecurrenceError, Series, to_aware
from bot.i18n import Msg, When, render
from bot.i18n import _ as N_
from bot.reply import Attachment, Bullets, Mention, Reply
from bot.storage import meetings as store
from bot.storage import occurrences, rooms
from bot.storage.db import Session
from bot.storage.meetings import Meeting
from bot.storage.models import Room

ANSWERS = {"yes": N_("yes"), "no": N_("no"), "maybe": N_("maybe")}
MARKS = {True: N_("present"), False: N_("absent")}
NAMES_SHOWN = 30
_RULE_LABELS = {
    PRESETS["weekly"]: N_("every week"),
    PRESETS["monthly"]: N_("every month"),
    PRESETS["bimonthly"]: N_("every two months"),
    PRESETS["quarterly"]: N_("every three months"),
}


@dataclass(frozen=True)
class Joined:
    """Several rendered values on one line."""

    items: tuple[Any, ...]
    sep: str = ", "

    def __render__(self, lang: str, as_html: bool) -> str:
        return self.sep.join(render(i, lang, as_html=as_html) for i in self.items)


def recurrence_message(err: RecurrenceError, prefix: str) -> Msg:
    p = err.params
    if err.code == "invalid_rrule":
        return N_("The repeat rule is not valid ({detail}): use weekly, monthly, bimonthly, "
                  "quarterly or an RFC 5545 rule such as FREQ=MONTHLY;BYDAY=1TH.",
                  detail=p.get("detail", ""))
    if err.code == "count_and_until":
        return N_("A repeat rule may have COUNT or UNTIL, not both.")
    if err.code == "unknown_zone":
        return N_("The room's time zone {zone} is unknown: a chair can set another with "
                  "{prefix}room set timezone.", zone=p.get("zone", ""), prefix=prefix)
    if err.code == "zero_duration":
        return N_("A meeting must last longer than zero minutes.")
    if err.code == "duration_too_long":
        return N_("A meeting lasts at most 24 hours.")
    if err.code == "no_occurrence":
        return N_("This repeat rule gives no meeting at all: check its dates and its count.")
    if err.code == "past_date":
        return N_("{when} is in the past: pick a date and time to come.",
                  when=When(p["start"], "weekday-datetime"))
    return N_("This meeting cannot be scheduled ({code}).", code=err.code)


def rule_label(rule: str) -> Any:
    return _RULE_LABELS.get(rule, rule)


def occurrence_line(meeting: Meeting, occ: Occurrence) -> Any:
    when = When(occ.start, "weekday-datetime")
    if meeting.place:
        line = N_("**{id}** {when} — {title} — {place}", id=meeting.short_id, when=when,
                  title=meeting.title, place=meeting.place)
    else:
        line = N_("**{id}** {when} — {title}", id=meeting.short_id, when=when,
                  title=meeting.title)
    return Joined((line, N_("(moved)")), " ") if occ.moved else line


def answer_counts(answers: dict[str, str]) -> Msg:
    values = list(answers.values())
    return N_("Answers so far: {yes} yes, {no} no, {maybe} maybe.", yes=values.count("yes"),
              no=values.count("no"), maybe=values.count("maybe"))


def not_answered(s: Session, room: Room, answers: dict[str, str], bot_user: str) -> Msg:
    seen = set(store.seen_members(s, room)) - {bot_user}
    if not seen:
        return N_("Who has not answered is not known yet: the bot notes the room's members "
                  "whenever someone uses a meeting command.")
    missing = sorted(seen - answers.keys())
    if not missing:
        return N_("Every member has answered.")
    shown = Joined(tuple(Mention(u) for u in missing[:NAMES_SHOWN]))
    if len(missing) > NAMES_SHOWN:
        return N_("Not answered yet: {people} and {more} more.", people=shown,
                  more=len(missing) - NAMES_SHOWN)
    return N_("Not answered yet: {people}", people=shown)


def attendance_blocks(s: Session, room: Room, meeting: Meeting, occ: Occurrence,
                      bot_user: str) -> list[Any]:
    """The RSVPs per service, with who was marked present or absent beside them."""
    answers = store.rsvps(s, meeting, occ.original)
    marks = occurrences.marks(s, meeting.id, occ.original)
    services = rooms.services(s, room)

    def person(user: str) -> Msg:
        label = ANSWERS.get(answers.get(user, ""), N_("no answer"))
        if user in marks:
            return N_("{user}: {answer}, {mark}", user=Mention(user), answer=label,
                      mark=MARKS[marks[user]])
        return N_("{user}: {answer}", user=Mention(user), answer=label)

    lines: list[Any] = [N_("{service} — {people}", service=name,
                           people=Joined(tuple(person(u) for u in users)))
                        for name, users in services.items()]
    represented = {u for users in services.values() for u in users}
    others = [u for u in {**answers, **marks} if u not in represented]
    if others:
        lines.append(N_("Without a service — {people}",
                        people=Joined(tuple(person(u) for u in sorted(others)))))
    blocks: list[Any] = [Bullets(tuple(lines))] if lines else []
    blocks += [answer_counts(answers), not_answered(s, room, answers, bot_user)]
    if marks:
        here = present_services(services, marks, answers)
        blocks.append(N_("Marked present: {count}. Services present: {services}.",
                         count=sum(marks.values()), services=", ".join(here) or "—"))
    return blocks


def reminder_reply(s: Session, room: Room, meeting: Meeting, occ: Occurrence, *, late: bool,
                   prefix: str, bot_user: str, extras: tuple[ReminderExtra, ...] = ()) -> Reply:
    reply = Reply([N_("**Reminder: {id} — {title}**", id=meeting.short_id,
                      title=meeting.title)])
    lines = [N_("When: {when}", when=When(occ.start, "weekday-datetime"))]
    if occ.moved:
        lines.append(N_("Moved from {when}", when=When(to_aware(occ.original, meeting.tz),
                                                       "weekday-datetime")))
    if meeting.place:
        lines.append(N_("Place: {place}", place=meeting.place))
    reply.add(Bullets(tuple(lines)))
    for extra in extras:
        reply.add(*extra(s, room, meeting, occ))
    answers = store.rsvps(s, meeting, occ.original)
    reply.add(answer_counts(answers), not_answered(s, room, answers, bot_user))
    reply.add(N_("Answer with {prefix}rsvp {id} yes|no|maybe.", prefix=prefix,
                 id=meeting.short_id))
    if late:
        reply.add(N_("This reminder is late: the bot could not send it at the planned time."))
    return reply


def calendar_file(meeting: Meeting, series: Series, room: Room, now: datetime) -> Attachment:
    data = series_to_ics(series, uid=meeting.uid, sequence=meeting.sequence,
                         title=meeting.title, place=meeting.place, description=room.name,
                         dtstamp=now)
    if meeting.cancelled:  # the whole series: calendars drop it on import
        calendar = Calendar.from_ical(data)
        for event in calendar.walk("VEVENT"):
            event.pop("STATUS", None)
            event.add("STATUS", "CANCELLED")
        data = calendar.to_ical()
    return Attachment(f"meeting-{meeting.short_id}.ics", "text/calendar", data)
