"""The owner of an open action is reminded once, on its due date (09:00 in the room's zone,
see `bot.commands.actions.commands.REMIND_AT`)."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.config import Config
from bot.i18n import When
from bot.i18n import _ as N_
from bot.outgoing import Outgoing, to_room
from bot.reply import Mention, Reply
from bot.storage import actions as store
from bot.storage.db import Session

log = logging.getLogger(__name__)


class ActionReminders:
    """The owner of an open action is reminded once, on its due date."""

    name = "action reminders"

    def __init__(self, config: Config):
        self.prefix = config.bot.command_prefixes[0]

    def next_due(self, s: Session, now: datetime) -> datetime | None:
        return store.next_reminder(s)

    def run_due(self, s: Session, now: datetime, out: list[Outgoing]) -> int:
        rows = store.to_remind(s, now)
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
