"""The owner of an open action is reminded once, on its due date (09:00 in the room's zone,
see `bot.commands.actions.commands.REMIND_AT`)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.i18n import When
from bot.i18n import _ as N_
from bot.outgoing import Outgoing, to_room
from bot.reply import Mention, Reply
from bot.storage.agenda import Action
from bot.storage.models import Room

log = logging.getLogger(__name__)


class ActionReminders:
    """The owner of an open action is reminded once, on its due date."""

    name = "action reminders"

    def __init__(self, config: Config):
        self.prefix = config.bot.command_prefixes[0]

    def _pending(self):
        return (Action.done.is_(False), Action.reminded_at.is_(None),
                Action.remind_at.is_not(None))

    def next_due(self, s: Session, now: datetime) -> datetime | None:
        return s.scalar(select(func.min(Action.remind_at)).where(*self._pending()))

    def run_due(self, s: Session, now: datetime, out: list[Outgoing]) -> int:
        rows = s.execute(select(Action, Room).join(Room, Room.id == Action.room_id)
                         .where(*self._pending(), Action.remind_at <= now).limit(500)).all()
        for action, room in rows:
            action.reminded_at = now
            reply = Reply([N_("{owner}, your action **{id}** is due {day}: {text}",
                              owner=Mention(action.owner), id=action.short_id,
                              day=When(action.due, "date"), text=action.text)])
            reply.add(N_("When it is done: {prefix}action done {id}.", prefix=self.prefix,
                         id=action.short_id))
            out.append(to_room(room, reply, key=f"action:{action.id}:due",
                               mentions=(action.owner,), urgent=True))
        if rows:
            log.info("%d action reminder(s) posted", len(rows))
        return len(rows)
