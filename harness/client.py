"""An end-to-end-encrypted Matrix client for driving coordbot in integration tests.

:class:`TestClient` wraps a matrix-nio :class:`~nio.AsyncClient` with an Olm
store on disk.  After :meth:`TestClient.login` it syncs in the background for
as long as it lives, trusts every device it learns about, and records every
message it receives per room, so tests can wait for messages that arrived
before they started waiting.

Points about nio's end-to-end encryption that this module takes care of (and
that any nio client has to):

* A Megolm session is shared only with devices whose keys are already in the
  device store.  ``room_send`` marks the session as shared even when a member's
  devices are still unknown, and those devices then can never decrypt it.  So
  before each send the members' keys are (re-)queried.
* ``room_send`` encrypts only when the room is *known* to be encrypted; before
  the ``m.room.encryption`` state has been synced it would send plaintext.
  :meth:`TestClient.send_message` refuses to do that.
* Without ``ignore_unverified_devices=True`` sending raises
  ``OlmUnverifiedDeviceError`` for any device nobody has verified.
* A room key can arrive after the message it decrypts.  nio does not retry by
  itself; this client retries undecryptable events when their key comes in.
* Synapse's m.notice messages arrive as ``RoomMessageNotice``, not
  ``RoomMessageText``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    DownloadError,
    EncryptionError,
    Event,
    ForwardedRoomKeyEvent,
    GroupEncryptionError,
    JoinedMembersResponse,
    JoinResponse,
    KeysQueryResponse,
    KeysUploadResponse,
    LocalProtocolError,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomInviteResponse,
    RoomKeyEvent,
    RoomMessage,
    RoomPutStateResponse,
    RoomSendResponse,
    SyncError,
    SyncResponse,
)
from nio.crypto.attachments import decrypt_attachment

if TYPE_CHECKING:
    from bot.devserver import LocalSynapse

log = logging.getLogger(__name__)

#: Long-poll timeout of the background sync, in milliseconds.
SYNC_TIMEOUT_MS = 10_000
# the default timeline limit (10) leaves gaps in a busy room; tests must see every message
SYNC_FILTER = {"room": {"timeline": {"limit": 500}}}

MEGOLM = "m.megolm.v1.aes-sha2"


class MatrixRequestFailed(AssertionError):
    """The homeserver rejected a request the test relied on."""


class WaitTimeout(AssertionError):
    """Something a test waited for did not happen in time."""


async def close_all(clients: list[TestClient]) -> None:
    """Close every client at a run's end, whatever state each is in."""
    for c in clients:
        with contextlib.suppress(Exception):
            await c.close()


def _check(response: Any, expected: type, what: str) -> Any:
    if not isinstance(response, expected):
        raise MatrixRequestFailed(f"{what} failed: {response!r}")
    return response


def msgtype_of(event: Event) -> str | None:
    """The ``msgtype`` of a (decrypted) message event, if it has one."""
    content = event.source.get("content") if isinstance(event.source, dict) else None
    return content.get("msgtype") if isinstance(content, dict) else None


def replied_to(event: Event) -> str | None:
    """The event id a message replies to (`m.in_reply_to`), if any."""
    relates = event.source.get("content", {}).get("m.relates_to", {})
    return relates.get("m.in_reply_to", {}).get("event_id")


def is_reply_to(event_id: str) -> Callable[[Event], bool]:
    """A `wait_for_message` predicate: the message replies to `event_id`."""
    return lambda event: replied_to(event) == event_id


def describe(event: Event) -> str:
    body = getattr(event, "body", None)
    kind = msgtype_of(event) or event.source.get("type", type(event).__name__)
    return f"{event.event_id} {event.sender} {kind}: {body!r}"


class TestClient:
    """A logged-in, always-syncing, encryption-capable test user."""

    __test__ = False  # not a pytest test class

    def __init__(self, hs: LocalSynapse, client: AsyncClient, password: str) -> None:
        self.hs = hs
        self.client = client
        self.password = password
        self._messages: defaultdict[str, list[Event]] = defaultdict(list)
        # a message is recorded once, as a client shows it once, even when a sync that
        # failed half-way is read again or a late key decrypts one already read
        self._recorded: set[str] = set()
        self._undecryptable: defaultdict[str, list[MegolmEvent]] = defaultdict(list)
        self._pending: defaultdict[str, list[MegolmEvent]] = defaultdict(list)
        self._plaintext: defaultdict[str, list[RoomMessage]] = defaultdict(list)
        self._changed = asyncio.Condition()
        self._sync_task: asyncio.Task[None] | None = None
        self._closed = False
        #: Exceptions that interrupted the background sync (it restarts after each).
        self.sync_errors: list[BaseException] = []
        #: Messages that could only be decrypted after their room key arrived.
        self.late_decrypted: list[Event] = []

    # ------------------------------------------------------------ identity

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    @property
    def device_id(self) -> str:
        return str(self.client.device_id)

    def __repr__(self) -> str:
        return f"<TestClient {self.user_id} {self.device_id}>"

    # --------------------------------------------------------------- login

    @classmethod
    async def login(
        cls,
        hs: LocalSynapse,
        localpart: str,
        password: str,
        store_dir: Path,
        *,
        device_id: str | None = None,
        device_name: str = "coordbot test client",
    ) -> TestClient:
        """Register (if needed) and log in ``localpart``, upload its keys and
        start syncing.

        Pass the ``device_id`` and ``store_dir`` of an earlier login to come
        back as the same device with the same Olm identity.
        """
        user_id = await asyncio.to_thread(hs.register, localpart, password)
        store_dir = Path(store_dir)
        store_dir.mkdir(parents=True, exist_ok=True)
        config = AsyncClientConfig(
            encryption_enabled=True,
            store_sync_tokens=True,
            # Ride out homeserver restarts quickly instead of backing off for
            # up to a minute.
            backoff_factor=0.1,
            max_timeout_retry_wait_time=1.0,
            request_timeout=30,
        )
        client = AsyncClient(
            hs.base_url,
            user_id,
            device_id=device_id or "",
            store_path=str(store_dir),
            config=config,
        )
        self = cls(hs, client, password)
        try:
            _check(
                await client.login(password, device_name=device_name),
                LoginResponse,
                f"login of {user_id}",
            )
            client.add_event_callback(self._on_room_event, Event)
            client.add_to_device_callback(self._on_room_key, (RoomKeyEvent, ForwardedRoomKeyEvent))
            client.add_response_callback(self._on_keys_query, KeysQueryResponse)
            client.add_response_callback(self._on_sync, SyncResponse)
            client.add_response_callback(self._on_sync_error, SyncError)
            if client.should_upload_keys:
                _check(await client.keys_upload(), KeysUploadResponse, "key upload")
            # One sync in the foreground, so that rooms are known on return.
            _check(
                await client.sync(timeout=0, full_state=True),
                SyncResponse,
                f"first sync of {user_id}",
            )
            await self._query_keys()
            self._sync_task = asyncio.create_task(
                self._sync_loop(), name=f"sync {user_id}/{client.device_id}"
            )
        except BaseException:
            await client.close()
            raise
        return self

    async def stop_syncing(self) -> None:
        """Stop the background sync; the client can still send (a bench's voters only send,
        and one observer sees the answers)."""
        task, self._sync_task = self._sync_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        """Stop syncing and close the HTTP session (the device stays)."""
        if self._closed:
            return
        self._closed = True
        await self.stop_syncing()
        await self.client.close()

    # -------------------------------------------------------- background

    async def _sync_loop(self) -> None:
        while not self._closed:
            try:
                await self.client.sync_forever(timeout=SYNC_TIMEOUT_MS, sync_filter=SYNC_FILTER)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if isinstance(exc, LocalProtocolError) and "No key query required" in str(exc):
                    # a send made the same key query meanwhile: nothing is missing
                    log.debug("sync of %s: key query already made; resuming", self.user_id)
                    continue
                self.sync_errors.append(exc)
                log.exception("sync of %s failed; resuming", self.user_id)
                await asyncio.sleep(0.5)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _on_sync(self, _response: SyncResponse) -> None:
        await self._notify()

    async def _on_sync_error(self, response: SyncError) -> None:
        # sync_forever retries a failed sync at once; don't spin while the
        # homeserver is shutting down or starting up.
        log.warning("sync of %s: %s", self.user_id, response)
        await asyncio.sleep(0.2)

    async def _on_keys_query(self, _response: KeysQueryResponse) -> None:
        self._trust_all()

    def _trust_all(self) -> None:
        """Mark every known device as verified."""
        try:
            for device in list(self.client.device_store):
                if not device.deleted and not self.client.olm.is_device_verified(device):
                    self.client.verify_device(device)
        except Exception:
            log.exception("%s could not trust devices", self.user_id)

    async def _on_room_event(self, room: MatrixRoom, event: Event) -> None:
        # Exceptions raised here would abort the processing of the rest of the
        # sync response, so none may escape.
        try:
            room_id = room.room_id
            if isinstance(event, MegolmEvent):
                log.warning(
                    "%s could not decrypt %s from %s in %s (session %s)",
                    self.user_id,
                    event.event_id,
                    event.sender,
                    room_id,
                    event.session_id,
                )
                self._undecryptable[room_id].append(event)
                self._pending[room_id].append(event)
            elif getattr(event, "decrypted", False):
                if not self._record(event):
                    return
                self._messages[room_id].append(event)
            elif isinstance(event, RoomMessage):
                self._plaintext[room_id].append(event)
            else:
                return
            await self._notify()
        except Exception:
            log.exception("%s failed to record %r", self.user_id, event)

    def _record(self, event: Event) -> bool:
        """Whether `event` is new to this client (and now recorded)."""
        if event.event_id in self._recorded:
            log.info("%s saw %s again", self.user_id, event.event_id)
            return False
        self._recorded.add(event.event_id)
        return True

    async def _on_room_key(self, event: RoomKeyEvent | ForwardedRoomKeyEvent) -> None:
        try:
            pending = self._pending.get(event.room_id)
            if not pending:
                return
            decrypted_any = False
            for megolm in [m for m in pending if m.session_id == event.session_id]:
                try:
                    decrypted = self.client.decrypt_event(megolm)
                except EncryptionError:
                    continue
                pending.remove(megolm)
                if isinstance(decrypted, Event) and getattr(decrypted, "decrypted", False) \
                        and self._record(decrypted):
                    log.info("%s decrypted %s late", self.user_id, megolm.event_id)
                    self._messages[event.room_id].append(decrypted)
                    self.late_decrypted.append(decrypted)
                    decrypted_any = True
            if decrypted_any:
                await self._notify()
        except Exception:
            log.exception("%s failed to retry decryption", self.user_id)

    # ------------------------------------------------------------ waiting

    async def wait_until(
        self, condition: Callable[[], Any], *, timeout: float = 30, what: str = "condition"
    ) -> Any:
        """Wait until ``condition()`` is truthy (it is re-checked after every
        sync) and return its value."""
        async with self._changed:
            try:
                return await asyncio.wait_for(self._changed.wait_for(condition), timeout)
            except TimeoutError:
                raise WaitTimeout(
                    f"{self.user_id}: no {what} within {timeout:g}s" + self._diagnostics()
                ) from None

    def _diagnostics(self) -> str:
        lines = []
        if self.sync_errors:
            lines.append(f"sync errors: {self.sync_errors[-3:]!r}")
        for room_id, events in self._undecryptable.items():
            lines.append(f"undecryptable in {room_id}: {len(events)}")
        return "".join(f"\n  {line}" for line in lines)

    async def room(self, room_id: str, timeout: float = 30) -> MatrixRoom:
        """This client's view of joined room ``room_id``, once it has synced."""
        return await self.wait_until(
            lambda: self.client.rooms.get(room_id),
            timeout=timeout,
            what=f"sync of joined room {room_id}",
        )

    _room = room

    async def wait_until_joined(self, room_id: str, user_id: str, timeout: float = 30) -> None:
        """Wait until this client's view of ``room_id`` has ``user_id`` joined."""

        def joined() -> bool:
            room = self.client.rooms.get(room_id)
            user = room.users.get(user_id) if room else None
            return user is not None and not user.invited

        await self.wait_until(joined, timeout=timeout, what=f"join of {user_id} to {room_id}")

    def messages(self, room_id: str) -> list[Event]:
        """Every message decrypted in ``room_id`` so far, in arrival order
        (including this client's own)."""
        return list(self._messages.get(room_id, ()))

    def cursor(self, room_id: str) -> int:
        """A position in :meth:`messages`; pass it as ``since`` to
        :meth:`wait_for_message` to consider only messages received later."""
        return len(self._messages.get(room_id, ()))

    def undecryptable(self, room_id: str) -> list[MegolmEvent]:
        """Messages that could not be decrypted when they arrived (some may
        have been decrypted later, see :attr:`late_decrypted`)."""
        return list(self._undecryptable.get(room_id, ()))

    def plaintext(self, room_id: str) -> list[RoomMessage]:
        """Unencrypted messages received in ``room_id``."""
        return list(self._plaintext.get(room_id, ()))

    async def wait_for_message(
        self,
        room_id: str,
        predicate: Callable[[Event], bool] = lambda ev: True,
        *,
        sender: str | None = None,
        timeout: float = 30,
        msgtypes: Iterable[str] | None = ("m.notice", "m.text"),
        since: int = 0,
        after: str | None = None,
    ) -> Event:
        """Return the first decrypted message in ``room_id`` that matches.

        Messages received before the call count too.  ``since`` (from
        :meth:`cursor`) skips what was received before that point; ``after``
        (an event id) skips everything up to and including that event, waiting
        for it to arrive first.  ``msgtypes=None`` matches any decrypted event.
        """
        wanted = None if msgtypes is None else frozenset(msgtypes)

        def find() -> Event | None:
            events = self._messages.get(room_id, [])
            start = since
            if after is not None:
                index = next((i for i, ev in enumerate(events) if ev.event_id == after), None)
                if index is None:
                    return None
                start = max(start, index + 1)
            for ev in events[start:]:
                if sender is not None and ev.sender != sender:
                    continue
                if wanted is not None and msgtype_of(ev) not in wanted:
                    continue
                if predicate(ev):
                    return ev
            return None

        try:
            return await self.wait_until(find, timeout=timeout, what="matching message")
        except WaitTimeout as exc:
            recent = self._messages.get(room_id, [])[-10:]
            seen = "".join(f"\n    {describe(ev)}" for ev in recent)
            raise WaitTimeout(
                f"{exc}\n  room {room_id}, sender={sender}, since={since}, after={after};"
                f" last messages:{seen or ' none'}"
            ) from None

    # ------------------------------------------------------------- rooms

    async def create_encrypted_room(
        self,
        invite: Iterable[str] = (),
        name: str | None = None,
        power_levels: dict[str, int] | None = None,
    ) -> str:
        """Create a private Megolm-encrypted room, invite ``invite`` and wait
        until the room, its encryption and the invitations have synced.

        ``power_levels`` maps user ids to levels.  Rooms are version 12, where
        the creator outranks everyone without being listed, so the creator is
        left out of the map.
        """
        invite = list(invite)
        override = None
        if power_levels:
            override = {"users": {u: lvl for u, lvl in power_levels.items() if u != self.user_id}}
        response = _check(
            await self.client.room_create(
                name=name,
                invite=invite,
                initial_state=[
                    {
                        "type": "m.room.encryption",
                        "state_key": "",
                        "content": {"algorithm": MEGOLM},
                    }
                ],
                power_level_override=override,
            ),
            RoomCreateResponse,
            "room creation",
        )
        room_id = str(response.room_id)

        def ready() -> bool:
            room = self.client.rooms.get(room_id)
            return bool(room and room.encrypted and all(u in room.users for u in invite))

        await self.wait_until(ready, what=f"sync of new room {room_id}")
        return room_id

    async def invite(self, room_id: str, user_id: str) -> None:
        _check(
            await self.client.room_invite(room_id, user_id),
            RoomInviteResponse,
            f"invite of {user_id} to {room_id}",
        )

    async def join(self, room_id: str) -> None:
        """Join ``room_id`` and wait until the room has synced."""
        _check(await self.client.join(room_id), JoinResponse, f"join of {room_id}")
        await self.room(room_id)

    async def set_power_level(self, room_id: str, user_id: str, level: int) -> str:
        """Set ``user_id``'s power level in ``room_id``; returns the event id."""
        current = _check(
            await self.client.room_get_state_event(room_id, "m.room.power_levels"),
            RoomGetStateEventResponse,
            f"reading power levels of {room_id}",
        )
        content = dict(current.content)
        users = dict(content.get("users") or {})
        users[user_id] = level
        content["users"] = users
        response = _check(
            await self.client.room_put_state(room_id, "m.room.power_levels", content),
            RoomPutStateResponse,
            f"setting power level of {user_id} in {room_id}",
        )
        return str(response.event_id)

    # ----------------------------------------------------------- sending

    async def _query_keys(self, user_ids: Iterable[str] = ()) -> None:
        """Fetch the device keys of ``user_ids`` (plus whatever nio has queued)
        and trust every device."""
        olm = self.client.olm
        olm.users_for_key_query.update(user_ids)
        if self.client.should_query_keys:
            try:
                response = await self.client.keys_query()
            except LocalProtocolError:
                pass  # the background sync answered the same query meanwhile
            else:
                _check(response, KeysQueryResponse, "device key query")
        self._trust_all()

    async def prepare_room_keys(self, room_id: str) -> None:
        """Make sure every member's devices are known and trusted, so that the
        next Megolm session reaches all of them."""
        _check(
            await self.client.joined_members(room_id),
            JoinedMembersResponse,
            f"members of {room_id}",
        )
        room = self.client.rooms[room_id]
        await self._query_keys(room.users.keys())

    async def send_message(
        self, room_id: str, content: dict[str, Any], event_type: str = "m.room.message"
    ) -> str:
        """Send an encrypted event; returns its event id."""
        room = await self.room(room_id)
        if not room.encrypted:
            raise MatrixRequestFailed(f"{room_id} is not encrypted; refusing to send plaintext")
        await self.prepare_room_keys(room_id)
        last_error: Exception | None = None
        for _attempt in range(3):
            try:
                response = await self.client.room_send(
                    room_id, event_type, content, ignore_unverified_devices=True
                )
            except (GroupEncryptionError, LocalProtocolError) as exc:
                # The outbound session was invalidated or is being shared by a
                # concurrent send; share again.
                log.warning("%s: send to %s failed (%s); retrying", self.user_id, room_id, exc)
                last_error = exc
                await asyncio.sleep(0.1)
                continue
            return str(_check(response, RoomSendResponse, f"send to {room_id}").event_id)
        raise MatrixRequestFailed(f"send to {room_id} failed: {last_error!r}")

    async def send_text(self, room_id: str, body: str, *, msgtype: str = "m.text") -> str:
        """Send an encrypted text message; returns its event id."""
        return await self.send_message(room_id, {"msgtype": msgtype, "body": body})

    async def download_file(self, event: Event) -> bytes:
        """The content of a file message, downloaded and decrypted. Refuses a file sent
        unencrypted in an encrypted room (its ``url`` would be in the clear)."""
        content = event.source["content"]
        if "file" not in content:
            raise MatrixRequestFailed(f"{event.event_id} carries no encrypted file: {content}")
        secret = content["file"]
        response = await self.client.download(mxc=secret["url"])
        if isinstance(response, DownloadError):
            raise MatrixRequestFailed(f"download of {secret['url']} failed: {response}")
        return decrypt_attachment(response.body, secret["key"]["k"],
                                  secret["hashes"]["sha256"], secret["iv"])
