"""The bot's life in Matrix: sync with backoff, invites, events handed to the intake.

Each sync's events go to the intake in one batch. The sync token is the intake's (kept in
the database, written only after a batch is handled), so a crash re-reads the last batch
instead of losing it; the intake claims each event before acting on it, so re-reading never
answers twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
from nio import (
    AsyncClient,
    InviteMemberEvent,
    JoinError,
    MegolmEvent,
    RoomMessageText,
    SyncError,
    SyncResponse,
    UnknownEvent,
)

from bot.config import Config
from bot.core.backoff import Backoff
from bot.core.outage import RecordsUnavailable
from bot.matrix.events import Intake, Link, RoomEvent
from bot.matrix.fallback import publish_fallback_key
from bot.matrix.history import joined, load_members, read_gap
from bot.matrix.keywait import GivenUp, KeyWait
from bot.matrix.power import PowerLevels
from bot.matrix.sending import Sender
from bot.matrix.session import LoginFailed, check_still_signed_in
from bot.matrix.text import command_text
from bot.matrix.trust import sender_keys

log = logging.getLogger(__name__)

# After a sync of at most QUIET_BATCH events, the next waits up to REPLY_WAIT for the
# replies to it (see run()).
REPLY_WAIT = 0.05  # s
QUIET_BATCH = 5  # events in one sync

# Only what the bot acts on: no presence, typing, receipts or account data, which for an
# account in many rooms the homeserver would otherwise gather at every sync.
SYNC_FILTER = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"limit": 50},
        # only the senders' memberships: the homeserver then skips work over every room of
        # the account on each sync; a room's full member list is read when it is first
        # needed (a command names members, a room key goes to all of them)
        "state": {"lazy_load_members": True},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}


class Transport:
    def __init__(self, config: Config, client: AsyncClient, sender: Sender, intake: Intake,
                 link: Link, *, on_reconnect: Callable[[], None],
                 replies_sent: Callable[[float], Awaitable[None]],
                 on_caught_up: Callable[[], None] = lambda: None):
        self.config = config
        self.client = client
        self.intake = intake
        self.link = link
        self.on_reconnect = on_reconnect
        self.on_caught_up = on_caught_up  # what was due is now past what the intake read
        # after a quiet batch, let the replies to it land before syncing again (below)
        self.replies_sent = replies_sent
        self.power = PowerLevels(client)
        self.keywait = KeyWait(client, config.bot.undecryptable_notice_seconds)
        self._stop = asyncio.Event()
        self._keys_lock = sender.keys_lock  # shared with the senders' room-key preparation
        self._fallback_published = False  # a new one at each start
        self.trust = sender.trust

    # ---- sync loop -------------------------------------------------------------------
    async def run(self) -> None:
        backoff = Backoff()
        token = None
        first = True
        quiet = False
        while not self._stop.is_set():
            try:
                if first:
                    token = await self.intake.sync_token()
                if quiet:
                    # A reply stored while the next sync waits wakes that sync at once, and
                    # the homeserver computes it (for every room of the account) just when
                    # the user's client waits for the reply. After a quiet batch, a short
                    # wait puts the client first; after a busy one, intake comes first.
                    await self.replies_sent(REPLY_WAIT)
                await self._e2ee_housekeeping()
                asked, asked_at = time.monotonic(), datetime.now(UTC)
                resp = await self.client.sync(timeout=self._wait(first), since=token,
                                              sync_filter=SYNC_FILTER, full_state=first)
                if isinstance(resp, SyncError):
                    check_still_signed_in(resp, self.config)
                    raise ConnectionError(f"sync refused: {resp.status_code} {resp.message}")
                answered = time.monotonic()
                await self._handle_sync(resp, since=token)
                self._caught_up(asked_at)
                quiet = not first and sum(len(r.timeline.events) for r in
                                          resp.rooms.join.values()) <= QUIET_BATCH
                token = resp.next_batch
                await self.intake.synced(token)
                self.link.last_sync = time.monotonic()
                if backoff.failures:
                    log.info("homeserver reachable again after %d failed attempts",
                             backoff.failures)
                backoff.reset()
                if not self.link.connected:
                    self.link.connected = True
                    self.on_reconnect()
                if first:
                    log.info("ready: first sync handled (%d rooms; the sync (homeserver and "
                             "parsing) took %.1fs, handled in %.1fs)", len(self.client.rooms),
                             answered - asked, time.monotonic() - answered)
                first = False
                self.link.synced.set()
            except asyncio.CancelledError:
                raise
            except RecordsUnavailable as exc:
                # nothing of this batch past the failure was recorded: read it again later
                delay = backoff.next()
                log.warning("database unavailable (%s); re-reading this batch in %.1fs",
                            exc, delay)
                await self._sleep(delay)
            except LoginFailed:
                raise  # the homeserver refuses the token: only the operator can help
            except (TimeoutError, aiohttp.ClientError, ConnectionError, OSError) as exc:
                self.link.connected = False
                delay = backoff.next()
                log.warning("homeserver unreachable (%s); retrying in %.1fs",
                            type(exc).__name__, delay)
                await self._sleep(delay)
            except Exception:
                delay = backoff.next()
                log.exception("unexpected error in the sync loop; retrying in %.1fs", delay)
                await self._sleep(delay)

    def _wait(self, first: bool) -> int:
        """How long the homeserver may hold the sync (ms): not past what the clock has due
        next, and not long while messages wait for their keys."""
        if first:
            return 0
        wait = 1000 if self.keywait or self.link.replanning else 30_000
        if self.link.due is not None:
            until = (self.link.due - datetime.now(UTC)).total_seconds()
            wait = min(wait, max(0, int(until * 1000) + 1))
        return wait

    def _caught_up(self, asked_at: datetime) -> None:
        """Everything the homeserver had when the sync was asked for is handled (when it
        answered is not known: a reply read late, after the process stalled, holds only what
        it had then). A message still waiting for its key does not hold the clock back: it
        may wait for good."""
        self.link.caught_up = asked_at
        if self.link.due is not None and self.link.caught_up >= self.link.due:
            self.on_caught_up()

    async def _sleep(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)

    def stop(self) -> None:
        self._stop.set()

    async def _e2ee_housekeeping(self) -> None:
        c = self.client
        if c.should_upload_keys:
            await c.keys_upload()
        if not self._fallback_published:
            self._fallback_published = await publish_fallback_key(c)
        async with self._keys_lock:  # shared with the senders' room-key preparation
            if c.should_query_keys:
                await c.keys_query()
            if c.should_claim_keys:
                await c.keys_claim(c.get_users_for_key_claiming())
        await c.send_to_device_messages()

    async def _handle_sync(self, resp: SyncResponse, since: str | None = None) -> None:
        self.trust.forget(resp.device_list.changed + resp.device_list.left)
        batch: list[RoomEvent] = []
        for room_id, info in resp.rooms.invite.items():
            await self._handle_invite(room_id, info.invite_state)
        for room_id, info in resp.rooms.join.items():
            timeline = list(info.timeline.events)
            if info.timeline.limited and since:
                # more happened than one sync returns: read the rest, or votes would be lost
                timeline = await read_gap(self.client, room_id, info.timeline.prev_batch,
                                          since) + timeline
            for ev in list(info.state) + timeline:
                self.power.note(room_id, ev)
                if (user := joined(ev)) and user != self.client.user_id:
                    self._new_member(room_id, user)
            for ev in timeline:
                if (event := await self._room_event(room_id, ev)) is not None:
                    batch.append(event)
        await self.intake.events(batch)
        await self._retry_undecryptable()

    async def _members(self, room) -> frozenset[str]:
        """The room's joined members, read from the homeserver the first time."""
        await load_members(self.client, room)
        return frozenset(room.users) - frozenset(room.invited_users)

    def _new_member(self, room_id: str, user_id: str) -> None:
        """A member joined: fetch their devices and start a new room key, so that the next
        message reaches them (nio would otherwise keep the session shared before the join)."""
        olm = self.client.olm
        if olm is None:
            return
        olm.users_for_key_query.add(user_id)
        self.client.invalidate_outbound_session(room_id)

    # ---- invites ---------------------------------------------------------------------
    async def _handle_invite(self, room_id: str, events: list) -> None:
        inviter = next((e.sender for e in events if isinstance(e, InviteMemberEvent)
                        and e.state_key == self.client.user_id and e.membership == "invite"),
                       None)
        if inviter is None or not self.config.bot.allows(inviter):
            log.info("ignoring invite to %s from %s (server not allowed)", room_id, inviter)
            return
        resp = await self.client.join(room_id)
        if isinstance(resp, JoinError):
            log.warning("could not join %s: %s", room_id, resp.message)
        else:
            log.info("joined %s on the invitation of %s", room_id, inviter)

    # ---- events ----------------------------------------------------------------------
    async def _room_event(self, room_id: str, ev) -> RoomEvent | None:
        """What the bot may act on in a timeline event, or None."""
        if getattr(ev, "sender", None) == self.client.user_id:
            return self._own(room_id, ev)
        if isinstance(ev, MegolmEvent):
            await self.keywait.add(room_id, ev)
            return None
        if isinstance(ev, RoomMessageText):
            kind, body = "text", command_text(ev.source.get("content", {}))
        elif isinstance(ev, UnknownEvent) and ev.type.endswith("poll.response"):
            kind, body = "poll.response", ""
        else:
            return None
        if not self.config.bot.allows(ev.sender):
            log.debug("ignoring %s from %s: server not allowed", ev.event_id, ev.sender)
            return None
        room = self.client.rooms.get(room_id)
        if room is None:
            return None
        device_id, verified = await self._sender_device(room_id, ev)
        return RoomEvent(room_id=room_id, event_id=ev.event_id, sender=ev.sender,
                         sent_at_ms=ev.server_timestamp, kind=kind, body=body,
                         power=await self.power.of(room_id, ev.sender),
                         members=await self._members(room),
                         source=ev.source, device_id=device_id, device_verified=verified)

    def _own(self, room_id: str, ev) -> RoomEvent | None:
        """One of the bot's own messages, seen in the timeline with the transaction id it
        was sent with (encrypted or not): the intake records it as sent, with its event id,
        before anything after it in the timeline is handled (an answer to a poll names its
        start), also when the bot never heard back from sending it (it crashed, or the
        homeserver's answer was lost)."""
        # nio keeps it on the events it knows; on the others (a poll's start) it stays in
        # the decrypted event's `unsigned`
        txn = getattr(ev, "transaction_id", None) or \
            (ev.source.get("unsigned") or {}).get("transaction_id")
        if not txn:
            return None
        return RoomEvent(room_id=room_id, event_id=ev.event_id, sender=ev.sender,
                         sent_at_ms=ev.server_timestamp, kind="own", body=txn, power=0,
                         members=frozenset())

    async def _retry_undecryptable(self) -> None:
        async def readable(room_id: str, decrypted) -> None:
            if (event := await self._room_event(room_id, decrypted)) is not None:
                await self.intake.events([event])

        async def given_up(gone: GivenUp) -> None:
            await self.intake.undecryptable(gone.room_id, gone.event_id, gone.sender)

        await self.keywait.again(readable, given_up)

    async def _sender_device(self, room_id: str, ev) -> tuple[str | None, bool | None]:
        if not self.config.bot.require_cross_signed_devices:
            return None, None
        keys = sender_keys(self.client, room_id, ev)
        if keys is None:
            return None, False  # sent in the clear: no device vouches for it
        return await self.trust.sender(ev.sender, *keys)
