"""Command families; each module registers its commands on a Registry."""

from __future__ import annotations

from bot.commands.framework import Registry


def registry_with_all() -> Registry:
    from bot.commands import rooms

    registry = Registry()
    for family in (rooms,):
        family.register(registry)
    return registry
