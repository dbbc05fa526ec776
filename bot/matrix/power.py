"""Users' power in a room, as permissions see it: the power levels, and the room's creators,
who outrank everyone from room version 12 on (MSC4289)."""

from __future__ import annotations

from nio import AsyncClient, RoomCreateEvent, RoomGetStateResponse

from bot.core.roles import effective_power


class PowerLevels:
    def __init__(self, client: AsyncClient):
        self.client = client
        self._creators: dict[str, tuple[str, ...]] = {}

    def note(self, room_id: str, ev) -> None:
        """Learn a room's creators from its create event, when a sync brings it."""
        if isinstance(ev, RoomCreateEvent):
            self._creators[room_id] = _creators_of(ev.source)

    async def of(self, room_id: str, user_id: str) -> int:
        room = self.client.rooms.get(room_id)
        if room is None:
            return 0
        if room_id not in self._creators:
            resp = await self.client.room_get_state(room_id)
            if isinstance(resp, RoomGetStateResponse):
                for ev in resp.events:
                    if ev.get("type") == "m.room.create":
                        self._creators[room_id] = _creators_of(ev)
        pl = room.power_levels
        return effective_power(user_id, pl.users, pl.defaults.users_default,
                               room.room_version, self._creators.get(room_id, ()))


def _creators_of(source: dict) -> tuple[str, ...]:
    content = source.get("content", {})
    creators = [source.get("sender") or content.get("creator", "")]
    creators += [u for u in content.get("additional_creators", []) if isinstance(u, str)]
    return tuple(c for c in creators if c)
