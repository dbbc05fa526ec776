"""A bare nio bot for comparison: answers every text starting with `echo` with an m.notice reply.

It answers in the order events come, one at a time, as nio's callbacks do. When more happened
in a room than one sync returns (the homeserver caps a sync's timeline), it reads the rest, so
that a storm loses nothing.

Run as `python bench/echo_bot.py HOMESERVER USER_ID PASSWORD STORE_DIR`.
"""

from __future__ import annotations

import asyncio
import sys

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    MatrixRoom,
    MegolmEvent,
    MessageDirection,
    RoomMessagesResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)


async def main(homeserver: str, user_id: str, password: str, store: str) -> None:
    client = AsyncClient(homeserver, user_id, store_path=store,
                         config=AsyncClientConfig(encryption_enabled=True))
    await client.login(password, device_name="echo")
    since: list[str | None] = [None]  # the previous sync's token

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)

    async def on_text(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == client.user_id or not event.body.startswith("echo"):
            return
        resp = await client.room_send(room.room_id, "m.room.message", {
            "msgtype": "m.notice", "body": event.body,
            "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}}},
            ignore_unverified_devices=True)
        if not isinstance(resp, RoomSendResponse):
            print(f"could not answer {event.event_id}: {resp}", flush=True)

    async def on_undecryptable(room: MatrixRoom, event: MegolmEvent) -> None:
        print(f"could not decrypt {event.event_id} from {event.sender}", flush=True)

    async def on_sync(resp: SyncResponse) -> None:
        for room_id, info in resp.rooms.join.items():
            start = info.timeline.prev_batch
            while info.timeline.limited and since[0] and start:
                page = await client.room_messages(room_id, start=start, end=since[0],
                                                  direction=MessageDirection.back, limit=100)
                if not isinstance(page, RoomMessagesResponse) or not page.chunk:
                    break
                for event in page.chunk:
                    if isinstance(event, RoomMessageText):
                        await on_text(client.rooms[room_id], event)
                start = page.end if page.end != start else None
        since[0] = resp.next_batch

    client.add_event_callback(on_invite, InviteMemberEvent)
    client.add_event_callback(on_text, RoomMessageText)
    client.add_event_callback(on_undecryptable, MegolmEvent)
    client.add_response_callback(on_sync, SyncResponse)
    print("echo bot ready", flush=True)
    # up to what the homeserver allows in one sync (Synapse: 100), so that gaps stay rare
    await client.sync_forever(timeout=30_000, full_state=True,
                              sync_filter={"room": {"timeline": {"limit": 500}}})


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
