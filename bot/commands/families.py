"""Every command family, in the order `!help` lists them, and what they add up to."""

from __future__ import annotations

from bot.commands import actions, agenda, meetings, minutes, proposals, rooms
from bot.commands.family import Assembly, Family
from bot.commands.framework import Registry
from bot.config import Config
from bot.scheduling import DueWork

FAMILIES: tuple[Family, ...] = (rooms.FAMILY, meetings.FAMILY, agenda.FAMILY, actions.FAMILY,
                                proposals.FAMILY, minutes.FAMILY)


def registry() -> Registry:
    """Every family's commands."""
    registry = Registry()
    for family in FAMILIES:
        family.commands(registry)
    return registry


def assembly(config: Config) -> Assembly:
    return Assembly(config, tuple(extra for f in FAMILIES for extra in f.reminder_extras))


def due_work(config: Config) -> list[DueWork]:
    parts = assembly(config)
    return [work for f in FAMILIES for work in f.due_work(parts)]


def event_handlers(config: Config) -> list:
    parts = assembly(config)
    return [handler for f in FAMILIES for handler in f.event_handlers(parts)]
