"""Encrypted messages the bot cannot read yet: it asks for their room key, tries them again
after every sync, and after `bot.undecryptable_notice_seconds` gives up on them, so that their
sender can be told."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nio import AsyncClient, Event, MegolmEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GivenUp:
    room_id: str
    event_id: str
    sender: str


class KeyWait:
    def __init__(self, client: AsyncClient, give_up_after: float):
        self.client = client
        self.give_up_after = give_up_after
        self._waiting: dict[str, tuple[float, str, MegolmEvent]] = {}

    def __bool__(self) -> bool:
        return bool(self._waiting)

    async def add(self, room_id: str, ev: MegolmEvent) -> None:
        """A message the bot has no key for: it waits, and its key is asked for once."""
        if ev.event_id in self._waiting:
            return
        log.info("cannot decrypt %s in %s yet; requesting the key", ev.event_id, room_id)
        self._waiting[ev.event_id] = (time.monotonic(), room_id, ev)
        try:
            await self.client.request_room_key(ev)
        except Exception:  # the message waits all the same; its sender may share the key
            log.debug("room key request failed", exc_info=True)

    async def again(self, readable: Callable[[str, Event], Awaitable[None]],
                    given_up: Callable[[GivenUp], Awaitable[None]]) -> None:
        """Hand each waiting message whose key has come, decrypted, to `readable` (with its
        room), and each waited for long enough to `given_up`, one at a time: a message
        leaves the wait as it is handed over, so that if handing one over fails, those not
        reached yet still wait."""
        now = time.monotonic()
        for event_id, (since, room_id, ev) in list(self._waiting.items()):
            try:
                decrypted = self.client.decrypt_event(ev)
            except Exception:  # noqa: BLE001 - still no key
                decrypted = None
            if decrypted is not None and not isinstance(decrypted, MegolmEvent):
                del self._waiting[event_id]
                decrypted.room_id = room_id
                log.info("decrypted %s after the key arrived", event_id)
                await readable(room_id, decrypted)
            elif now - since >= self.give_up_after:
                del self._waiting[event_id]
                log.warning("could not decrypt %s from %s in %s", event_id, ev.sender, room_id)
                await given_up(GivenUp(room_id, event_id, ev.sender))
