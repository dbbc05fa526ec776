"""Sending one queued message to a room: its file uploaded and its room key shared with
the devices that may read it first."""

from __future__ import annotations

import asyncio

from nio import AsyncClient, RoomSendResponse

from bot.config import Config
from bot.matrix.history import load_members
from bot.matrix.trust import DeviceTrust, share_with_verified_only
from bot.matrix.uploads import upload
from bot.outgoing import Queued, SendFailed


class Sender:
    def __init__(self, config: Config, client: AsyncClient):
        self.config = config
        self.client = client
        self.trust = DeviceTrust(client)  # also the sync's, for the senders of commands
        # key queries and room-key sharing, here and in the sync loop: one at a time
        self.keys_lock = asyncio.Lock()

    async def send(self, message: Queued) -> str:
        """Send one queued message; returns its event id or raises SendFailed.

        `verified_only`: the room key goes only to devices their owners cross-signed, and to
        the message's `device` (user, device id) for this one message, e.g. to tell it why it
        was refused."""
        room_id, verified_only, also = message.room_id, message.verified_only, message.device
        content = dict(message.content)  # the row stays as queued, for a retry
        if message.attachment is not None:
            content = await upload(self.client, room_id, content, message.attachment)
        async with self.keys_lock:
            if verified_only:
                await share_with_verified_only(self.client, self.trust, room_id, also=also)
            else:
                await self._prepare_room_key(room_id)
        try:
            resp = await self.client.room_send(
                room_id, message.event_type, content, tx_id=message.txn_id,
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
