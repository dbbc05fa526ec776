"""Roles from power levels, and who counts as a room creator."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntEnum

CREATOR_POWER = 2**53 - 1  # creators outrank everyone in room versions 12 and later


class Role(IntEnum):
    OBSERVER = 0
    MEMBER = 1
    COORDINATOR = 2
    CHAIR = 3


def creators_outrank(room_version: str) -> bool:
    """Room versions 12 and later (MSC4289) give the creators unlimited power."""
    if room_version.isdigit():
        return int(room_version) >= 12
    return room_version.startswith("org.matrix.hydra")


def effective_power(user: str, users: Mapping[str, int], users_default: int,
                    room_version: str, creators: Iterable[str]) -> int:
    if creators_outrank(room_version) and user in set(creators):
        return CREATOR_POWER
    return int(users.get(user, users_default))


def role_from_power(power: int) -> Role:
    """Power 100 or more -> chair, 50 or more -> coordinator, else member."""
    if power >= 100:
        return Role.CHAIR
    if power >= 50:
        return Role.COORDINATOR
    return Role.MEMBER
