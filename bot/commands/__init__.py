"""Command families; each module registers its commands on a Registry."""

from __future__ import annotations

from types import ModuleType

from bot.commands.framework import Registry


def FAMILIES() -> list[ModuleType]:  # noqa: N802 - reads as the constant list it is
    from bot.commands import actions, agenda, meetings, proposals, rooms

    return [rooms, meetings, agenda, actions, proposals]


def registry_with_all() -> Registry:
    registry = Registry()
    for family in FAMILIES():
        family.register(registry)
    return registry
