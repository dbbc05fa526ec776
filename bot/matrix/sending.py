"""Sending one event to a room, with its room key prepared first."""

from __future__ import annotations

import asyncio

from nio import AsyncClient, RoomSendResponse

from bot.config import Config
from bot.matrix.events import SendFailed
from bot.matrix.history import load_members
from bot.matrix.trust import DeviceTrust, share_with_verified_only


class Sender:
    def __init__(self, config: Config, client: AsyncClient, trust: DeviceTrust,
                 keys_lock: asyncio.Lock):
        self.config = config
        self.client = client
        self.trust = trust
        # key queries and room-key sharing, here and in the sync loop: one at a time
        self.keys_lock = keys_lock

    async def send(self, room_id: str, event_type: str, content: dict, txn_id: str, *,
                   verified_only: bool = False, also: tuple[str, str] | None = None) -> str:
        """Send one event; returns its event id or raises SendFailed.

        `verified_only`: the room key goes only to devices their owners cross-signed, and to
        the device `also` (user, device id) for this one message, e.g. to tell it why it
        was refused."""
        async with self.keys_lock:
            if verified_only:
                await share_with_verified_only(self.client, self.trust, room_id, also=also)
            else:
                await self._prepare_room_key(room_id)
        try:
            resp = await self.client.room_send(
                room_id, event_type, content, tx_id=txn_id,
                ignore_unverified_devices=verified_only or
                self.config.matrix.unverified_devices == "share")
        finally:
            if verified_only and also is not None:
                self.client.invalidate_outbound_session(room_id)  # that device saw one only
        if isinstance(resp, RoomSendResponse):
            return resp.event_id
        raise SendFailed(getattr(resp, "status_code", None), getattr(resp, "message", str(resp)))

    async def _prepare_room_key(self, room_id: str) -> None:
        """What room_send would do first (members, device keys, the room key), done here
        under a lock so that sends to several rooms at once never race on it."""
        c = self.client
        room = c.rooms.get(room_id)
        if room is None or not room.encrypted or c.olm is None:
            return
        await load_members(c, room)
        if c.should_query_keys:
            await c.keys_query()
        if c.olm.should_share_group_session(room_id):
            await c.share_group_session(
                room_id, ignore_unverified_devices=self.config.matrix.unverified_devices
                == "share")
