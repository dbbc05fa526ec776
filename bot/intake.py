"""The one way in: what a sync brings, a few events to a transaction, each apart.

A command is claimed (so a batch read again is never answered twice), dispatched, and its
reply and whatever it said besides are queued in the transaction of the change they report;
an answer in a native poll goes to the families' event handlers; a message the bot could
not decrypt gets a notice. The sync token is written once a whole sync is handled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bot.commands.dispatch import Dispatcher, Incoming
from bot.commands.family import Event, EventHandler
from bot.config import Config
from bot.devices import response_refusal
from bot.faults import crash_point
from bot.i18n import _ as N_
from bot.matrix.events import RoomEvent
from bot.ops import Metrics
from bot.outgoing import notice
from bot.reply import Mention, Reply
from bot.scheduling import Queue
from bot.storage import outbox, progress, rooms
from bot.storage.db import Database, Session, one_of_many

log = logging.getLogger(__name__)
SYNC_TOKEN = "sync_token"
# one event's work in a transaction of several: the messages it queued, and whether it
# changed anything besides
Unit = Callable[[Session], tuple[list[Any], bool]]
# events in one transaction at most: the replies of the first wait for the commit, and the
# end-to-end encryption store, written from the event loop, waits for the write lock
GROUP = 20


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
        """One sync's events in order, up to GROUP of them in one transaction: a storm costs
        one commit for many events, and what they share (the room, its services, a proposal
        and its votes) is read once. Each event is claimed in that transaction and handled
        apart: one that fails is logged and undone alone, and the others go on. What a
        transaction holds is recorded at once or not at all, so after a crash, or with the
        database out of reach, what was not recorded is read again, and what was claimed is
        never answered twice.

        The bot's own messages in the batch are recorded as sent (with their event ids) in
        the first transaction, before anything that answers them (a poll's start)."""
        own = [(ev.body, ev.event_id) for ev in batch if ev.kind == "own"]
        units: list[tuple[RoomEvent, Unit]] = []
        for ev in batch:
            if ev.kind == "own":
                continue
            self.metrics.events.labels(ev.kind).inc()
            unit = self._command(ev) if ev.kind == "text" else \
                self._other(ev) if self.handlers else None
            if unit is not None:
                units.append((ev, unit))
        groups = [units[start:start + GROUP] for start in range(0, len(units), GROUP)]
        if own and not groups:
            groups = [[]]
        for n, group in enumerate(groups):  # chat only: no transaction
            seen = own if n == 0 else []
            rows, changed = await self.db.run(partial(_together, group, seen, self.clock()))
            if group:
                crash_point("event.committed")
            self._after(rows, changed)

    def _command(self, ev: RoomEvent) -> Unit | None:
        split = self.dispatcher.split_prefix(ev.body)
        if split is None:
            return None  # not a command
        sent_at = datetime.fromtimestamp(ev.sent_at_ms / 1000, UTC)
        inc = Incoming(room_id=ev.room_id, event_id=ev.event_id, sender=ev.sender,
                       prefix=split[0], text=split[1], sent_at=sent_at, power=ev.power,
                       members=ev.members, device_id=ev.device_id,
                       device_verified=ev.device_verified)

        def work(s: Session) -> tuple[list[Any], bool]:
            now = self.clock()
            if not progress.claim_event(s, inc.event_id, inc.room_id, now):
                return [], False
            crash_point("event.claimed")
            if now - sent_at > timedelta(seconds=self.config.bot.catch_up_seconds):
                log.info("not answering %s in %s: sent %s, older than the catch-up window",
                         inc.event_id, inc.room_id, sent_at.isoformat())
                return [], False
            out = self.dispatcher.handle(s, inc, now)
            if out is None:
                return [], False
            return self.queue(s, out.messages, now), out.changed

        return work

    def _other(self, ev: RoomEvent) -> Unit:
        """A non-command event (an answer in a poll): the first handler it is for takes it."""
        event = Event(room_id=ev.room_id, event_id=ev.event_id, sender=ev.sender,
                      kind=ev.kind, power=ev.power, content=ev.source.get("content", {}),
                      sent_at=datetime.fromtimestamp(ev.sent_at_ms / 1000, UTC))

        def work(s: Session) -> tuple[list[Any], bool]:
            now = self.clock()
            if not progress.claim_event(s, ev.event_id, ev.room_id, now):
                return [], False
            crash_point("event.claimed")
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

        return work

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


def _together(units: Sequence[tuple[RoomEvent, Unit]], seen: Sequence[tuple[str, str]],
              now: datetime, s: Session) -> tuple[list[Any], bool]:
    """Events in one transaction, each apart, after the bot's own messages `seen`
    (transaction id, event id) are recorded as sent: the messages they queued, and whether
    any of them changed something besides."""
    if seen:
        outbox.seen(s, seen, now)
    rows: list[Any] = []
    changed = False
    for ev, unit in units:
        done = one_of_many(s, unit, f"handling {ev.event_id} in {ev.room_id}")
        if done is not None:
            rows += done[0]
            changed = changed or done[1]
    return rows, changed
