"""A bare nio bot for comparison: answers every text starting with `echo` with an m.notice reply.

Run as `python bench/echo_bot.py HOMESERVER USER_ID PASSWORD STORE_DIR`.
"""

from __future__ import annotations

import asyncio
import sys

from nio import AsyncClient, AsyncClientConfig, InviteMemberEvent, MatrixRoom, RoomMessageText


async def main(homeserver: str, user_id: str, password: str, store: str) -> None:
    client = AsyncClient(homeserver, user_id, store_path=store,
                         config=AsyncClientConfig(encryption_enabled=True))
    await client.login(password, device_name="echo")

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)

    async def on_text(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == client.user_id or not event.body.startswith("echo"):
            return
        await client.room_send(room.room_id, "m.room.message", {
            "msgtype": "m.notice", "body": event.body,
            "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}}},
            ignore_unverified_devices=True)

    client.add_event_callback(on_invite, InviteMemberEvent)
    client.add_event_callback(on_text, RoomMessageText)
    print("echo bot ready", flush=True)
    await client.sync_forever(timeout=30_000, full_state=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
