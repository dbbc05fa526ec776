"""What the bot says about action items: one line each, and the open ones in meeting
reminders."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.commands.meetings.texts import Joined
from bot.core.recurrence import Occurrence
from bot.i18n import When
from bot.i18n import _ as N_
from bot.reply import Bullets, Mention
from bot.storage import actions as store
from bot.storage.actions import Action
from bot.storage.db import Session
from bot.storage.meetings import Meeting
from bot.storage.models import Room


def action_line(action: Action, today: date | None = None) -> Any:
    """An action; overdue ones say so when `today` (the room's date) is given."""
    line = N_("**{id}** {owner}: {text}", id=action.short_id, owner=Mention(action.owner),
              text=action.text)
    if action.done:
        return Joined((line, N_("(done)")), " ")
    if action.due is None:
        return line
    if today is not None and action.due < today:
        return Joined((line, N_("(was due {day})", day=When(action.due, "date"))), " ")
    return Joined((line, N_("(due {day})", day=When(action.due, "date"))), " ")


def open_actions(s: Session, room: Room, meeting: Meeting, occ: Occurrence) -> list[Any]:
    """The room's open actions, for a meeting reminder."""
    actions = store.actions_of(s, room, done=False)
    if not actions:
        return []
    return [N_("**Open actions:**"), Bullets(tuple(action_line(a) for a in actions))]
