"""The running bot: the parts wired together, started while this instance is the active one.

The way through them: the transport (bot.matrix) reads a sync and hands its events to the
intake (bot.intake), which claims each, dispatches commands (bot.commands) and queues what
they say through the one outbound port (bot.outgoing, bot.storage.outbox); the clock
(bot.scheduling) runs the families' due work, queued the same way; the outbox sender
(bot.outbox) sends the queued rows through bot.matrix.sending.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from functools import partial

from nio import AsyncClient

from bot.commands import families
from bot.commands.dispatch import Dispatcher
from bot.config import Config
from bot.intake import Intake
from bot.leader import Leadership, LeadershipLost
from bot.login import check_configured_token, open_device
from bot.matrix.events import Link
from bot.matrix.sending import Sender
from bot.matrix.transport import Transport
from bot.ops import Metrics, OpsServer
from bot.outbox import OutboxSender
from bot.retention import DailyPurge
from bot.scheduling import DueWork, Scheduler
from bot.storage import outbox
from bot.storage.db import Database

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def due_work(config: Config) -> list[DueWork]:
    """Everything the clock does: the retention settings, and each family's due work."""
    return [DailyPurge(config), *families.due_work(config)]


class Bot:
    def __init__(self, config: Config):
        self.config = config
        self.leadership = Leadership(config.storage.database)
        self.db = Database(config.storage.database, fence=self.leadership.lease)
        self.client: AsyncClient | None = None
        self.link: Link | None = None
        self.metrics = Metrics(self.db, lambda: self.link.last_sync if self.link else None)
        self.ops: OpsServer | None = None
        self.scheduler: Scheduler | None = None
        self.transport: Transport | None = None
        self.outbox: OutboxSender | None = None
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        """Sign in and start acting: the parts of one term as the active instance."""
        config, db = self.config, self.db
        kinds = config.bot.require_cross_signed_devices
        await asyncio.to_thread(db.migrate, kinds)
        await self.leadership.fence()
        client, _ = await open_device(config, db)
        self.client = client
        link = self.link = Link()
        queue = partial(outbox.queue, verified_only_kinds=kinds)
        sender = Sender(config, client)

        def marked(rows: list) -> None:
            if any(row.ref for row in rows):  # a poll end that waited for its start can go
                clock.poke()

        sent = self.outbox = OutboxSender(db, sender.send, utcnow, ready=link.synced,
                                          on_marked=marked)
        clock = self.scheduler = Scheduler(db, due_work(config), queue, queued=sent.add,
                                           ready=lambda: link.connected,
                                           read_up_to=lambda: link.caught_up,
                                           plan=link.plan)
        intake = Intake(config, db, Dispatcher(config, observer=self.metrics.command),
                        families.event_handlers(config), queue, queued=sent.add,
                        changed=clock.poke, metrics=self.metrics, clock=utcnow)
        self.transport = Transport(config, client, sender, intake, link,
                                   on_reconnect=clock.poke, replies_sent=sent.sent,
                                   on_caught_up=clock.poke)
        self._tasks = [asyncio.create_task(sent.run(), name="outbox"),
                       asyncio.create_task(self.transport.run(), name="sync")]
        clock.start()

    async def run(self) -> None:
        """Serve health and metrics, wait to be the active instance, then act until stopped.

        An instance that loses the connection holding its lock steps down and waits for
        the lock again: another instance may have taken over meanwhile."""
        try:
            await check_configured_token(self.config)  # a refused token: stop, change nothing
            if self.config.metrics.listen:
                self.ops = OpsServer(self.config.metrics.listen, self.metrics, self.db,
                                     role=lambda: "active" if self.leadership.active
                                     else "standby")
                await self.ops.start()
            while True:
                await self.leadership.acquire()
                await self.start()
                self._tasks.append(asyncio.create_task(self.leadership.watch(),
                                                       name="leadership"))
                done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
                try:
                    for task in done:
                        task.result()  # re-raise what stopped it
                except LeadershipLost as exc:
                    log.warning("%s; stepping down, waiting to be active again", exc)
                    await self._stop_acting()
                    continue
                return
        finally:
            await self.close()

    async def _stop_acting(self) -> None:
        if self.scheduler:
            await self.scheduler.shutdown()
            self.scheduler = None
        if self.transport:
            self.transport.stop()
            self.transport = None
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.outbox:
            await self.outbox.close()
            self.outbox = None
        if self.client:
            await self.client.close()
            self.client = None
        self.link = None
        self.leadership.release()

    async def close(self) -> None:
        await self._stop_acting()
        if self.ops:
            await self.ops.stop()
        await asyncio.to_thread(self.db.close)
