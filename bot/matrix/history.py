"""What the bot's sync leaves out and is read back when needed: a room's events between two
syncs (when more happened than one sync returns), and a room's full member list (the sync
lazy-loads members)."""

from __future__ import annotations

import contextlib
import logging

from nio import (
    AsyncClient,
    JoinedMembersResponse,
    MatrixRoom,
    MessageDirection,
    RoomMemberEvent,
    RoomMessagesResponse,
)

log = logging.getLogger(__name__)

MAX_GAP = 2000  # events fetched to fill one room's gap between two syncs


async def read_gap(client: AsyncClient, room_id: str, prev_batch: str, since: str) -> list:
    """The events of a room between the last sync (`since`) and this sync's timeline
    (which starts at `prev_batch`), oldest first."""
    events: list = []
    start, more = prev_batch, True
    while more:
        if len(events) >= MAX_GAP:
            log.warning("more than %d events in %s since the last sync; the oldest are "
                        "not read", MAX_GAP, room_id)
            break
        resp = await client.room_messages(room_id, start=start, end=since,
                                          direction=MessageDirection.back, limit=100)
        if not isinstance(resp, RoomMessagesResponse):
            code = str(getattr(resp, "status_code", "") or "")
            if code.startswith("M_") and code != "M_LIMIT_EXCEEDED":
                # refused for good (e.g. the bot left): the rest of the sync goes on
                log.warning("cannot read the events missed in %s: %s", room_id, resp)
                break
            raise ConnectionError(f"reading the events missed in {room_id} failed: "
                                  f"{resp}")
        for ev in resp.chunk:
            events.append(ev)
            if joined(ev) == client.user_id:
                more = False  # the bot joined here: what came before is not for it
                break
        else:
            more = bool(resp.chunk) and bool(resp.end) and resp.end != start
            start = resp.end
    log.info("read %d events between two syncs in %s", len(events), room_id)
    for ev in events:
        if getattr(ev, "room_id", None) is None:
            with contextlib.suppress(AttributeError):
                ev.room_id = room_id
    return events[::-1]


def joined(ev) -> str | None:
    """The user who joined the room by this event, if it is a join."""
    if isinstance(ev, RoomMemberEvent) and ev.membership == "join" and \
            ev.prev_membership != "join":
        return ev.state_key
    return None


async def load_members(client: AsyncClient, room: MatrixRoom) -> None:
    """Read the room's full member list into nio's room, once: later changes come with the
    sync's timeline."""
    if room.members_synced:
        return
    resp = await client.joined_members(room.room_id)
    if not isinstance(resp, JoinedMembersResponse):
        raise ConnectionError(f"reading the members of {room.room_id} failed: {resp}")
