"""Encrypted messages the bot cannot read yet: it asks for their room key, tries them again
after every sync, and after `bot.undecryptable_notice_seconds` gives up on them, so that their
sender can be told."""

from __future__ import annotations

import logging
import time
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

    def again(self) -> tuple[list[tuple[str, Event]], list[GivenUp]]:
        """The waiting messages whose key has come, decrypted (with their room), and those
        waited for long enough; both leave the wait."""
        now = time.monotonic()
        readable: list[tuple[str, Event]] = []
        given_up: list[GivenUp] = []
        for event_id, (since, room_id, ev) in list(self._waiting.items()):
            try:
                decrypted = self.client.decrypt_event(ev)
            except Exception:  # noqa: BLE001 - still no key
                decrypted = None
            if decrypted is not None and not isinstance(decrypted, MegolmEvent):
                del self._waiting[event_id]
                decrypted.room_id = room_id
                log.info("decrypted %s after the key arrived", event_id)
                readable.append((room_id, decrypted))
            elif now - since >= self.give_up_after:
                del self._waiting[event_id]
                log.warning("could not decrypt %s from %s in %s", event_id, ev.sender, room_id)
                given_up.append(GivenUp(room_id, event_id, ev.sender))
        return readable, given_up
