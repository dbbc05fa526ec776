"""What each command family adds beyond its commands: due work and event handlers.

A family module may define `due_works(config) -> list[DueWork]` and
`event_handlers(config) -> list[Callable[[Session, RoomEvent, datetime, Poster], bool]]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.commands import FAMILIES
from bot.config import Config


@dataclass
class Features:
    due_works: list = field(default_factory=list)
    event_handlers: list = field(default_factory=list)

    @classmethod
    def load(cls, config: Config) -> Features:
        from bot.retention import DailyPurge

        f = cls(due_works=[DailyPurge(config)])
        for module in FAMILIES():
            if hasattr(module, "due_works"):
                f.due_works.extend(module.due_works(config))
            if hasattr(module, "event_handlers"):
                f.event_handlers.extend(module.event_handlers(config))
        return f
