"""What the transport hands in: events the bot may act on, in batches of one sync, and what
the rest of the bot may know of the homeserver connection."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RoomEvent:
    """A decrypted event the bot may act on, with what permissions need to know."""

    room_id: str
    event_id: str
    sender: str
    sent_at_ms: int
    kind: str  # "text" or "poll.response" or …
    body: str
    power: int
    members: frozenset[str]
    source: dict = field(repr=False, default_factory=dict)
    # the sender's device, and whether its owner cross-signed it (None: not checked, or
    # unknown); checked only when some room kinds require cross-signed devices
    device_id: str | None = None
    device_verified: bool | None = None


class Intake(Protocol):
    """Where the transport hands what it read; each method may raise RecordsUnavailable
    (bot.core.outage): the batch is then read again later."""

    async def sync_token(self) -> str | None:
        """Where the last handled sync ended."""

    async def events(self, batch: Sequence[RoomEvent]) -> None:
        """The events of one sync (or one decrypted late), in the order they happened."""

    async def undecryptable(self, room_id: str, event_id: str, sender: str) -> None:
        """A message whose key never came."""

    async def synced(self, token: str) -> None:
        """Everything of the sync that ends at `token` is handled."""


class Link:
    """The homeserver connection as the rest of the bot sees it (one per start)."""

    def __init__(self) -> None:
        self.connected = False  # the last sync succeeded
        self.synced = asyncio.Event()  # the first sync is handled: nio knows the rooms
        self.last_sync = 0.0  # time.monotonic() of the last sync
        # Every event the homeserver had before this moment is handled (UTC): due work acts
        # on no later time, so a deadline never passes over a vote cast before it that the
        # bot has not read yet (it was down, stalled, or busy).
        self.caught_up = NEVER
        # When the clock next has something to do: the sync returns by then, so that
        # `caught_up` passes it in time. While the clock is about to plan again (something
        # changed), it may be sooner: the sync then returns within a second.
        self.due: datetime | None = None
        self.replanning = False

    def plan(self, due: datetime | None, settled: bool) -> None:
        """What the clock says of its next work (bot.scheduling.Scheduler's `plan`)."""
        self.due, self.replanning = due, not settled

