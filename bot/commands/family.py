"""A command family as one unit: what it declares, and what it adds to the rest of the bot.

Each family package (`bot.commands.rooms`, `.meetings`, `.agenda`, `.actions`, `.proposals`)
exports one `FAMILY`; `bot.commands.families` lists them. A newcomer who must change voting
opens `bot/commands/proposals/` and finds everything there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.commands.framework import Registry
from bot.config import Config
from bot.outgoing import Outgoing
from bot.scheduling import DueWork
from bot.storage.db import Session

# Blocks a family adds to every meeting reminder (the agenda so far, the open actions):
# fn(session, room, meeting, occurrence) -> blocks of a Reply.
ReminderExtra = Callable[..., list[Any]]


@dataclass(frozen=True)
class Event:
    """A room event that is not a command (an answer in a native poll), as event handlers
    see it."""

    room_id: str
    event_id: str
    sender: str
    kind: str  # "poll.response", …
    power: int
    content: dict = field(default_factory=dict)
    sent_at: datetime | None = None  # as the homeserver stamped it


# What an event handler says about an event (in the transaction that claims it), or None
# when the event is not for it.
EventHandler = Callable[[Session, Event, datetime], list[Outgoing] | None]


@dataclass(frozen=True)
class Assembly:
    """What a family's due work and event handlers are made with: the configuration, and
    what the families add to each other (the blocks of a meeting reminder)."""

    config: Config
    reminder_extras: tuple[ReminderExtra, ...] = ()


def _nothing(assembly: Assembly) -> list:
    return []


@dataclass(frozen=True)
class Family:
    name: str
    # declares the family's commands on a registry
    commands: Callable[[Registry], None]
    # the clock's work: each says when it is next due and does what is due
    due_work: Callable[[Assembly], Sequence[DueWork]] = _nothing
    # handlers of room events that are not commands (answers in a native poll)
    event_handlers: Callable[[Assembly], Sequence[EventHandler]] = _nothing
    reminder_extras: tuple[ReminderExtra, ...] = ()
