"""Agenda posts before each occurrence, each once: a call for items a day before the agenda
deadline, and the final agenda at the deadline. An occurrence scheduled after its deadline
gets neither (see `bot.core.reminders`: nothing is due from before it was scheduled)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from bot.commands.agenda.texts import agenda_blocks, occurrence_title
from bot.commands.meetings.before_each import BeforeEachOccurrence
from bot.config import Config
from bot.core.agenda import CALL_BEFORE_DEADLINE, deadline
from bot.core.reminders import Reminder
from bot.i18n import When
from bot.i18n import _ as N_
from bot.outgoing import Outgoing, to_room
from bot.reply import Reply
from bot.storage import agenda as store
from bot.storage.db import Session
from bot.storage.meetings import AGENDA_POSTS, Meeting
from bot.storage.models import Room

CALL = int(CALL_BEFORE_DEADLINE.total_seconds())


class AgendaDeadlines(BeforeEachOccurrence):
    name = "agenda deadlines"
    watch = AGENDA_POSTS

    def __init__(self, config: Config):
        self.config = config

    def offsets(self, room: Room) -> tuple[int, ...]:
        return (room.agenda_deadline, room.agenda_deadline + CALL)

    def kind(self, room: Room, offset: int) -> str:
        return "final" if offset == room.agenda_deadline else "call"

    def done(self, s: Session, rows: list[tuple[Meeting, Room]],
             oldest: datetime) -> dict[int, set[tuple[datetime, int]]]:
        rooms = {m.id: r for m, r in rows}
        out: dict[int, set[tuple[datetime, int]]] = defaultdict(set)
        for meeting_id, original, kind in store.posts_done(s, list(rooms), oldest):
            final = rooms[meeting_id].agenda_deadline
            out[meeting_id].add((original, final if kind == "final" else final + CALL))
        return out

    def record(self, s: Session, meeting: Meeting, room: Room, reminder: Reminder,
               now: datetime, *, late: bool, skipped: bool) -> None:
        store.record_post(s, meeting, reminder.occurrence.original,
                          self.kind(room, reminder.offset), now, late=late, skipped=skipped)

    def post(self, s: Session, meeting: Meeting, room: Room, reminder: Reminder,
             late: bool) -> Outgoing:
        occ = reminder.occurrence
        kind = self.kind(room, reminder.offset)
        prefix = self.config.bot.command_prefixes[0]
        closes = When(deadline(occ.start, room.agenda_deadline).astimezone(occ.start.tzinfo),
                      "weekday-datetime")
        if kind == "final":
            reply = Reply([N_("**Final agenda** of {meeting}", meeting=occurrence_title(
                meeting, occ)), *agenda_blocks(s, room, meeting, occ)])
            reply.add(N_("The agenda is closed: only coordinators can still add items, "
                         "marked late."))
        else:
            reply = Reply([N_("**Call for agenda items** for {meeting}",
                              meeting=occurrence_title(meeting, occ)),
                           *agenda_blocks(s, room, meeting, occ)])
            reply.add(N_("The agenda closes {when}. Add an item with {prefix}agenda add "
                         "<title> --meeting {id}.", when=closes, prefix=prefix,
                         id=meeting.short_id))
        if late:
            reply.add(N_("This message is late: the bot could not send it at the planned "
                         "time."))
        return to_room(room, reply, urgent=True,
                       key=f"agenda:{kind}:M{meeting.id}:{occ.original.isoformat()}"
                           f":{meeting.sequence}")
