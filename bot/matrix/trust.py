"""Which devices their owners have cross-signed, and room keys that reach only those.

In the room kinds listed in `bot.require_cross_signed_devices` a command counts only when it
comes from a device its owner cross-signed, and the bot's messages are readable only on such
devices. nio 0.26 knows nothing of cross-signing, so the verdict comes from our own
`/keys/query` (bot.matrix.signing checks the signatures), cached per process and dropped
for a user when the homeserver reports a change in their device list.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from uuid import uuid4

from nio import Api, AsyncClient, ShareGroupSessionResponse

from bot.matrix.crosssigning import query_keys
from bot.matrix.history import load_members
from bot.matrix.signing import DeviceIdentity, user_devices

log = logging.getLogger(__name__)
Devices = dict[str, DeviceIdentity]


class DeviceTrust:
    """Per-process cache of every user's devices and whether each one is cross-signed."""

    def __init__(self, client: AsyncClient, *, recheck_after: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.recheck_after = recheck_after
        self.clock = clock
        self._users: dict[str, tuple[float, Devices]] = {}

    def forget(self, users: Iterable[str]) -> None:
        """Their devices or keys changed: ask again next time."""
        for user in users:
            self._users.pop(user, None)

    async def devices(self, users: Iterable[str]) -> dict[str, Devices]:
        """The devices of each user; users whose keys cannot be fetched now are left out."""
        users = list(dict.fromkeys(users))
        missing = [u for u in users if u not in self._users]
        for start in range(0, len(missing), 100):
            chunk = missing[start:start + 100]
            try:
                body = await query_keys(self.client, chunk)
            except Exception as exc:  # noqa: BLE001 - unknown means "not verified"
                log.warning("could not fetch the device keys of %d user(s): %s", len(chunk),
                            exc)
                continue
            now = self.clock()
            for user in chunk:
                self._users[user] = (now, user_devices(body, user))
        return {u: self._users[u][1] for u in users if u in self._users}

    async def sender(self, user_id: str, sender_key: str,
                     ed25519: str) -> tuple[str | None, bool | None]:
        """(device id, cross-signed?) of `user_id`'s device with the Olm identity key
        `sender_key` and the signing key `ed25519`; None for what cannot be told now."""
        for attempt in range(2):
            known = (await self.devices([user_id])).get(user_id)
            if known is None:
                return None, None
            device = next((d for d in known.values() if d.curve25519 == sender_key), None)
            good = device is not None and device.cross_signed and ed25519 == device.ed25519
            if good or attempt or self.clock() - self._users[user_id][0] < self.recheck_after:
                return (device.device_id if device else None), good
            self.forget([user_id])  # a device signed a moment ago: look once more
        return None, None  # not reached


def sender_keys(client: AsyncClient, room_id: str, event) -> tuple[str, str] | None:
    """For a decrypted room event: the sender's Olm identity key and the signing key its room
    key came with ("" when the room key was forwarded by another device: then nothing proves
    which device wrote the message). None for an event that was not encrypted."""
    olm = client.olm
    sender_key = getattr(event, "sender_key", None)
    if olm is None or not getattr(event, "decrypted", False) or not sender_key:
        return None
    session = olm.inbound_group_store.get(room_id, sender_key, getattr(event, "session_id", ""))
    if session is None or session.forwarding_chain:
        return sender_key, ""
    return sender_key, session.ed25519


async def share_with_verified_only(client: AsyncClient, trust: DeviceTrust, room_id: str,
                                   *, also: tuple[str, str] | None = None) -> None:
    """Make sure the room key the next message is encrypted with has reached only devices
    their owners cross-signed (and the one device `also`, for an answer meant for it).

    Done here rather than by nio's room_send, which would share with every device; when
    this returns, nio has nothing left to share and encrypts with this session at once.
    """
    olm, room = client.olm, client.rooms.get(room_id)
    if olm is None or room is None or not room.encrypted:
        return
    for _ in range(3):
        if room_id in client.sharing_session:
            await client.sharing_session[room_id].wait()
        await load_members(client, room)
        if client.should_query_keys:
            await client.keys_query()
        users = list(room.users)
        known = await trust.devices(users)
        missing = client.get_missing_sessions(room_id)
        if missing:
            await client.keys_claim(missing)
        # from here to the sharing below nothing awaits: the device lists cannot change
        verified, unverified, reachable = _classify(client, users, known)
        if also is None and _still_good(olm.outbound_group_sessions.get(room_id), verified,
                                        unverified, reachable):
            return
        olm.create_outbound_group_session(room_id)
        session = olm.outbound_group_sessions[room_id]
        session.users_ignored.update(unverified - {also})
        # cross-signed devices are not "verified" in nio's own sense; they are the ones
        # left after the ignored set, so nio may go ahead (it marks them "ignored")
        requests = [
            client._send(ShareGroupSessionResponse, *Api.to_device(
                client.access_token, "m.room.encrypted", to_device, uuid4()),
                response_data=(room_id, with_whom))
            for with_whom, to_device in olm.share_group_session_parallel(
                room_id, users, ignore_unverified_devices=True)]
        await asyncio.gather(*requests)
        session.shared = True
        if not olm.should_share_group_session(room_id):
            log.debug("room key of %s shared with %d cross-signed device(s), withheld from "
                      "%d", room_id, len(session.users_shared_with), len(unverified))
            return
    raise ConnectionError(f"could not share a room key for {room_id}")


def _classify(client: AsyncClient, users: list[str],
              known: dict[str, Devices]) -> tuple[set, set, set]:
    """Members' devices as nio knows them: (cross-signed, not, with an Olm session)."""
    olm = client.olm
    verified, unverified, reachable = set(), set(), set()
    for user in users:
        for device in olm.device_store.active_user_devices(user):
            if user == client.user_id and device.id == client.device_id:
                continue
            ident = known.get(user, {}).get(device.id)
            ok = ident is not None and ident.cross_signed and \
                (ident.ed25519, ident.curve25519) == (device.ed25519, device.curve25519)
            (verified if ok else unverified).add((user, device.id))
            if olm.session_store.get(device.curve25519):
                reachable.add((user, device.id))
    return verified, unverified, reachable


def _still_good(session, verified: set, unverified: set, reachable: set) -> bool:
    """Whether the current room key can go on being used: shared, fresh, seen by no device
    that is not cross-signed, and not kept from a cross-signed device that could have it."""
    if session is None or not session.shared or session.expired:
        return False
    if session.users_shared_with & unverified:
        return False
    not_reached = (verified & reachable) - session.users_shared_with
    return not not_reached
