"""What the bot says about agendas: item lines, the agenda, its block in meeting reminders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.commands.meetings.texts import Joined
from bot.core.agenda import deadline, timing
from bot.core.recurrence import Occurrence
from bot.i18n import Msg, When
from bot.i18n import _ as N_
from bot.reply import Bullets, Mention
from bot.storage import agenda as store
from bot.storage.agenda import AgendaItem
from bot.storage.db import Session
from bot.storage.meetings import Meeting
from bot.storage.models import Room


def item_line(item: AgendaItem) -> Any:
    parts: list[Any] = [N_("**{id}** {title}", id=item.short_id, title=item.title)]
    if item.presenter:
        parts.append(N_("presented by {user}", user=Mention(item.presenter)))
    if item.minutes:
        parts.append(N_("{minutes} min", minutes=item.minutes))
    tags: list[Any] = []
    if item.done:
        tags.append(N_("(treated)"))
    if item.late:
        tags.append(N_("(late)"))
    if item.carried:
        tags.append(N_("(carried over)"))
    line = Joined(tuple(parts), " — ")
    return Joined((line, *tags), " ") if tags else line


def occurrence_title(meeting: Meeting, occ: Occurrence) -> Msg:
    return N_("**{id} — {title}**, {when}", id=meeting.short_id, title=meeting.title,
              when=When(occ.start, "weekday-datetime"))


def agenda_blocks(s: Session, room: Room, meeting: Meeting, occ: Occurrence,
                  now: datetime | None = None) -> list[Any]:
    """The numbered agenda with its timing; with `now`, whether it is still open."""
    items = store.items_of(s, meeting.id, occ.original)
    if not items:
        blocks: list[Any] = [N_("No agenda items yet.")]
    else:
        t = timing((i.minutes for i in items), meeting.duration)
        blocks = [Bullets(tuple(item_line(i) for i in items), numbered=True),
                  N_("Total time: {total} min; the meeting lasts {duration} min.",
                     total=t.total, duration=meeting.duration // 60)]
        if t.unknown:
            blocks.append(N_("Items without an estimate: {count}.", count=t.unknown))
        if t.overrun:
            blocks.append(N_("Warning: the items take {minutes} min more than the meeting "
                             "lasts.", minutes=t.overrun))
    if now is not None:
        closes = When(deadline(occ.start, room.agenda_deadline).astimezone(occ.start.tzinfo),
                      "weekday-datetime")
        if now < deadline(occ.start, room.agenda_deadline):
            blocks.append(N_("The agenda closes {when}.", when=closes))
        else:
            blocks.append(N_("The agenda closed {when}; only coordinators can still add "
                             "items, marked late.", when=closes))
    return blocks


def agenda_so_far(s: Session, room: Room, meeting: Meeting, occ: Occurrence) -> list[Any]:
    """The agenda so far, for a meeting reminder."""
    return [N_("**Agenda so far:**"), *agenda_blocks(s, room, meeting, occ)]
