"""The one way in: what a sync brings, handled event by event, each in one transaction.

A command is claimed (so a batch read again is never answered twice), dispatched, and its
reply and whatever it said besides are queued in the transaction of the change they report;
an answer in a native poll goes to the families' event handlers; a message the bot could
not decrypt gets a notice. The sync token is written once a whole sync is handled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.commands.dispatch import Dispatcher, Incoming
from bot.commands.family import Event, EventHandler
from bot.config import Config
from bot.core.outage import RecordsUnavailable
from bot.devices import response_refusal
from bot.i18n import _ as N_
from bot.matrix.events import RoomEvent
from bot.ops import Metrics
from bot.outgoing import notice
from bot.reply import Mention, Reply
from bot.scheduling import Queue
from bot.storage import progress, rooms
from bot.storage.db import Database, Session

log = logging.getLogger(__name__)
SYNC_TOKEN = "sync_token"


class Intake:
    def __init__(self, config: Config, db: Database, dispatcher: Dispatcher,
                 handlers: Sequence[EventHandler], queue: Queue, *,
                 queued: Callable[[list[Any]], None], changed: Callable[[], None],
                 metrics: Metrics, clock: Callable[[], datetime]):
        self.config = config
        self.db = db
        self.dispatcher = dispatcher
        self.handlers = list(handlers)
        self.queue = queue
        self.queued = queued  # committed rows, for the outbox sender (no read back)
        self.changed = changed  # something changed that may make due work due
        self.metrics = metrics
        self.clock = clock

    async def sync_token(self) -> str | None:
        return await self.db.run(lambda s: progress.get_state(s, SYNC_TOKEN))

    async def synced(self, token: str) -> None:
        await self.db.run(lambda s: progress.set_state(s, SYNC_TOKEN, token))

    async def events(self, batch: Sequence[RoomEvent]) -> None:
        """One sync's events in order; one that fails is logged and the others go on, unless
        the database is out of reach (then the whole batch is read again later)."""
        for ev in batch:
            self.metrics.events.labels(ev.kind).inc()
            try:
                if ev.kind == "text":
                    await self._command(ev)
                elif self.handlers:
                    await self._other(ev)
            except RecordsUnavailable:
                raise
            except Exception:
                log.exception("handling %s in %s failed", ev.event_id, ev.room_id)

    async def _command(self, ev: RoomEvent) -> None:
        split = self.dispatcher.split_prefix(ev.body)
        if split is None:
            return  # not a command: no transaction for chat
        now = self.clock()
        sent_at = datetime.fromtimestamp(ev.sent_at_ms / 1000, UTC)
        too_old = now - sent_at > timedelta(seconds=self.config.bot.catch_up_seconds)
        inc = Incoming(room_id=ev.room_id, event_id=ev.event_id, sender=ev.sender,
                       prefix=split[0], text=split[1], sent_at=sent_at, power=ev.power,
                       members=ev.members, device_id=ev.device_id,
                       device_verified=ev.device_verified)

        def work(s: Session) -> tuple[list[Any], bool]:
            if not progress.claim_event(s, inc.event_id, inc.room_id, now):
                return [], False
            if too_old:
                log.info("not answering %s in %s: sent %s, older than the catch-up window",
                         inc.event_id, inc.room_id, sent_at.isoformat())
                return [], False
            out = self.dispatcher.handle(s, inc, now)
            if out is None:
                return [], False
            return self.queue(s, out.messages, now), out.changed

        rows, changed = await self.db.run(work)
        self._after(rows, changed)

    async def _other(self, ev: RoomEvent) -> None:
        """A non-command event (an answer in a poll): the first handler it is for takes it."""
        now = self.clock()
        event = Event(room_id=ev.room_id, event_id=ev.event_id, sender=ev.sender,
                      kind=ev.kind, power=ev.power, content=ev.source.get("content", {}))

        def work(s: Session) -> tuple[list[Any], bool]:
            if not progress.claim_event(s, ev.event_id, ev.room_id, now):
                return [], False
            refusal = response_refusal(self.config, s, ev)
            if refusal is not None:
                device = (ev.sender, ev.device_id) if ev.device_id else None
                return self.queue(s, [notice(ev.room_id, *refusal, key=f"unverified:{ev.event_id}",
                                             reply_to=ev.event_id, device=device)], now), True
            for handler in self.handlers:
                said = handler(s, event, now)
                if said is not None:
                    return self.queue(s, said, now), True
            return [], False

        rows, handled = await self.db.run(work)
        self._after(rows, handled)

    async def undecryptable(self, room_id: str, event_id: str, sender: str) -> None:
        self.metrics.undecryptable.inc()

        def note(s: Session) -> list[Any]:
            now = self.clock()
            if not progress.claim_event(s, event_id, room_id, now):
                return []
            room = rooms.get_room(s, room_id)
            reply = Reply([N_("{user}, I could not decrypt your message: my device did not "
                              "receive its key. Please send it again.", user=Mention(sender))])
            language = room.language if room else self.config.bot.language
            return self.queue(s, [notice(room_id, reply, language, key=f"undecryptable:{event_id}",
                                         reply_to=event_id, mentions=(sender,))], now)

        self._after(await self.db.run(note), False)

    def _after(self, rows: list[Any], changed: bool) -> None:
        """After the commit: the rows go to the sender at once, and the clock looks again."""
        if rows:
            self.queued(rows)
        if changed:
            self.changed()  # e.g. a meeting added: its reminders may be due soon
