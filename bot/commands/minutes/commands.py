"""`!minutes <meeting> [--date <date>]`: the minutes of an occurrence, posted as an encrypted
Word document with a short summary, in the room's language(s)."""

from __future__ import annotations

from datetime import date, datetime

from bot.commands.converters import Date, ShortId
from bot.commands.framework import Context, Flag, Param, Registry, Role, UserError
from bot.commands.meetings.attendance import held
from bot.commands.minutes.content import Minutes
from bot.commands.minutes.document import MIMETYPE, filename, minutes_docx
from bot.commands.minutes.gather import gather
from bot.commands.minutes.summary import summary
from bot.core.recurrence import Occurrence
from bot.i18n import When
from bot.i18n import _ as N_
from bot.reply import Attachment, Reply
from bot.storage import rooms
from bot.storage.db import Session
from bot.storage.meetings import Meeting
from bot.storage.models import Room
from bot.storage.proposals import audit


def register(r: Registry) -> None:
    r.command("minutes", summary=N_("the minutes of a meeting, as a Word document"),
              params=[Param("meeting", ShortId("M"))], flags=[Flag("date", Date())],
              role=Role.COORDINATOR)(minutes)


def minutes_of(s: Session, room: Room, meeting: Meeting, occ: Occurrence,
               now: datetime) -> Minutes:
    """The minutes of an occurrence that has begun."""
    if occ.start > now:
        raise UserError(N_("Meeting {id} of {when} has not begun: its minutes can be made "
                           "once it has.", id=meeting.short_id,
                           when=When(occ.start, "weekday-datetime")), show_usage=False)
    return gather(s, room, meeting, occ, now)


def document(m: Minutes, language: str) -> Attachment:
    return Attachment(filename(m, language), MIMETYPE, minutes_docx(m, language))


def minutes(ctx: Context, meeting: int, date: date | None) -> Reply:
    row, occ = held(ctx, meeting, date)
    m = minutes_of(ctx.session, ctx.room, row, occ, ctx.now)
    reply = summary(m)
    reply.attachment = document(m, ctx.room.language)
    audit(ctx.session, ctx.room, "minutes", ctx.now, user=ctx.sender,
          service=rooms.service_of(ctx.session, ctx.room, ctx.sender), meeting=row.short_id,
          occurrence=occ.original.isoformat())
    return reply
