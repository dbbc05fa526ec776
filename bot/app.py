"""The running bot: transport in, dispatcher and rules in the middle, outbox out."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from nio import AsyncClient, UploadResponse
from sqlalchemy.orm import Session

from bot.commands import families
from bot.commands.dispatch import Dispatcher, Incoming
from bot.config import Config
from bot.devices import (
    DELIVER_TO,
    for_sender_device,
    requires_verified,
    response_refusal,
    take_device,
)
from bot.i18n import _ as N_
from bot.leader import Leadership, LeadershipLost
from bot.login import check_configured_token, open_device
from bot.matrix.events import RoomEvent, SendFailed
from bot.matrix.transport import Transport
from bot.ops import Metrics, OpsServer
from bot.outbox import OutboxSender
from bot.reply import Mention, Reply, notice_content
from bot.retention import DailyPurge
from bot.scheduling import DueWork, OutboxPoster, Scheduler
from bot.storage import repo
from bot.storage.db import Database
from bot.storage.models import Outbox

log = logging.getLogger(__name__)
SYNC_TOKEN = "sync_token"


def utcnow() -> datetime:
    return datetime.now(UTC)


def due_work(config: Config) -> list[DueWork]:
    """Everything the clock does: the retention settings, and each family's due work."""
    return [DailyPurge(config), *families.due_work(config)]


class Bot(OutboxPoster):
    def __init__(self, config: Config):
        super().__init__(utcnow)
        self.config = config
        self.leadership = Leadership(config.storage.database)
        self.db = Database(config.storage.database, fence=self.leadership.lease)
        self.dispatcher = Dispatcher(config)
        self.client: AsyncClient | None = None
        self.transport: Transport | None = None
        self.outbox: OutboxSender | None = None
        self._tasks: list[asyncio.Task] = []
        self.device_id: str | None = None
        self.scheduler: Scheduler | None = None
        self.event_handlers = families.event_handlers(config)
        self.metrics = Metrics(self.db, lambda: self.transport.last_sync
                               if self.transport else None)
        self.dispatcher.observer = self.metrics.command
        self.ops: OpsServer | None = None

    # ---- life cycle --------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self.db.migrate)
        await self.leadership.fence()
        self.client, creds = await open_device(self.config, self.db)
        self.device_id = creds.device_id
        self.transport = Transport(
            self.config, self.client, on_event=self.on_event,
            on_undecryptable=self.on_undecryptable, load_token=self._load_token,
            save_token=self._save_token)
        self.outbox = OutboxSender(self.db, self._send_row, utcnow,
                                   ready=self.transport.synced_once,
                                   alone=lambda row: DELIVER_TO in row.content)
        self.outbox.on_marked = self._marked
        self._tasks = [asyncio.create_task(self.outbox.run(), name="outbox"),
                       asyncio.create_task(self.transport.run(), name="sync")]
        self.scheduler = Scheduler(self.db, due_work(self.config), poster=self,
                                   on_sent=self.wake_outbox,
                                   ready=lambda: self.transport.connected)
        self.transport.on_reconnect = self.scheduler.poke
        self.transport.replies_sent = self.outbox.sent
        self.scheduler.start()

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
        self.leadership.release()

    async def close(self) -> None:
        await self._stop_acting()
        if self.ops:
            await self.ops.stop()
        await asyncio.to_thread(self.db.close)

    async def _load_token(self) -> str | None:
        return await self.db.run(lambda s: repo.get_state(s, SYNC_TOKEN))

    async def _save_token(self, token: str) -> None:
        await self.db.run(lambda s: repo.set_state(s, SYNC_TOKEN, token))

    # ---- incoming ----------------------------------------------------------------------
    async def on_event(self, ev: RoomEvent) -> None:
        self.metrics.events.labels(ev.kind).inc()
        if ev.kind != "text":
            await self._feature_event(ev)
            return
        if self.dispatcher.split_prefix(ev.body) is None:
            return
        now = utcnow()
        sent_at = datetime.fromtimestamp(ev.sent_at_ms / 1000, UTC)
        too_old = now - sent_at > timedelta(seconds=self.config.bot.catch_up_seconds)
        queued, changed = await self.db.run(
            lambda s: self._command(s, ev, sent_at, now, too_old))
        if queued:
            self.outbox.add(queued)  # sent at once, without reading them back
        if changed and self.scheduler:
            self.scheduler.poke()  # e.g. a meeting added: its reminders may be due soon

    async def _feature_event(self, ev: RoomEvent) -> None:
        """Non-command events (e.g. poll responses) go to the features that want them."""
        now = utcnow()

        def work(s: Session) -> bool:
            # one claim per event; the first handler that takes the event handles it
            if not repo.claim_event(s, ev.event_id, ev.room_id, now):
                return False
            refusal = response_refusal(self.config, s, ev)
            if refusal is not None:
                repo.enqueue(s, ev.room_id, for_sender_device(notice_content(
                    *refusal, reply_to=ev.event_id), ev), now, key=f"unverified:{ev.event_id}")
                return True
            return any(h(s, ev, now, self) for h in self.event_handlers)

        if self.event_handlers and await self.db.run(work):
            self.wake_outbox()
            if self.scheduler:
                self.scheduler.poke()

    def _command(self, s: Session, ev: RoomEvent, sent_at: datetime, now: datetime,
                 too_old: bool) -> tuple[list[Outbox], bool]:
        """Handle a command in one transaction; returns the messages it queued, and whether
        it changed anything besides."""
        if not repo.claim_event(s, ev.event_id, ev.room_id, now):
            return [], False
        if too_old:
            log.info("not answering %s in %s: sent %s, older than the catch-up window",
                     ev.event_id, ev.room_id, sent_at.isoformat())
            return [], False
        inc = Incoming(room_id=ev.room_id, event_id=ev.event_id, sender=ev.sender,
                       body=ev.body, sent_at=sent_at, power=ev.power, members=ev.members,
                       device_verified=ev.device_verified)
        out = self.dispatcher.handle(s, inc, now)
        if out is None:
            return [], False
        reply = out.reply
        # a reply that comes with an outcome goes ahead of waiting messages, and before it
        rows = [repo.enqueue(s, ev.room_id, for_sender_device(notice_content(
            reply, out.language, reply_to=ev.event_id), ev), now, key=f"reply:{ev.event_id}",
            urgent=out.urgent)]
        for n, (event_type, content, ref) in enumerate(out.emitted):
            rows.append(repo.enqueue(s, ev.room_id, content, now, key=f"emit:{ev.event_id}:{n}",
                                     event_type=event_type, ref=ref, urgent=out.urgent))
        if reply.attachment is not None:
            a = reply.attachment
            rows.append(repo.enqueue(s, ev.room_id, {
                "msgtype": "m.file", "body": a.filename, "filename": a.filename,
                "info": {"mimetype": a.mimetype, "size": len(a.data)},
                "m.relates_to": {"m.in_reply_to": {"event_id": ev.event_id}},
            }, now, key=f"file:{ev.event_id}", attachment=a.data))
        return rows, out.changed

    async def on_undecryptable(self, room_id: str, event_id: str, sender: str) -> None:
        self.metrics.undecryptable.inc()
        def note(s: Session) -> bool:
            if not repo.claim_event(s, event_id, room_id, utcnow()):
                return False
            room = repo.get_room(s, room_id)
            reply = Reply([N_("{user}, I could not decrypt your message: my device did not "
                              "receive its key. Please send it again.", user=Mention(sender))])
            content = notice_content(reply, room.language if room else
                                     self.config.bot.language, reply_to=event_id,
                                     mentions=(sender,))
            repo.enqueue(s, room_id, content, utcnow(), key=f"undecryptable:{event_id}")
            return True

        if await self.db.run(note):
            self.wake_outbox()

    def wake_outbox(self) -> None:
        """Rows were queued in the database only: the sender reads them."""
        if self.outbox:
            self.outbox.wake()

    # ---- outgoing ----------------------------------------------------------------------
    def _marked(self, rows: list[Outbox]) -> None:
        """A poll's start has its event id now: a poll end that waited for it can go."""
        if self.scheduler and any(row.ref for row in rows):
            self.scheduler.poke()

    async def _send_row(self, row: Outbox) -> str:
        content = dict(row.content)
        device = take_device(content)
        if row.attachment is not None:
            content = await self._upload(row, content)
        strict = bool(self.config.bot.require_cross_signed_devices) and await self.db.run(
            lambda s: requires_verified(self.config, s, row.room_id))
        return await self.transport.sender.send(row.room_id, row.event_type, content, row.txn_id,
                                         verified_only=strict, also=device)

    async def _upload(self, row: Outbox, content: dict) -> dict:
        room = self.client.rooms.get(row.room_id)
        encrypted = bool(room and room.encrypted)
        data = row.attachment
        resp, keys = await self.client.upload(
            lambda *_: data, content_type=content.get("info", {}).get("mimetype",
                                                                     "application/octet-stream"),
            filename=content.get("filename", content.get("body", "file")), encrypt=encrypted,
            filesize=len(data))
        if not isinstance(resp, UploadResponse):
            raise SendFailed(getattr(resp, "status_code", None), "upload failed")
        if encrypted:
            content["file"] = {"url": resp.content_uri, **keys}
        else:
            content["url"] = resp.content_uri
        return content

