"""What the transport hands in and out: events the bot may act on, send failures, and the
backoff both sides use when the homeserver is out of reach."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


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


Handler = Callable[[RoomEvent], Awaitable[None]]


class Backoff:
    def __init__(self, base: float = 1.0, cap: float = 30.0):
        self.base, self.cap, self.failures = base, cap, 0

    def next(self) -> float:
        self.failures += 1
        return min(self.cap, self.base * 2 ** (self.failures - 1)) * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.failures = 0


class SendFailed(Exception):
    def __init__(self, code: str | None, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code

    @property
    def permanent(self) -> bool:
        return self.code in ("M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN_ROOM", "M_TOO_LARGE")
