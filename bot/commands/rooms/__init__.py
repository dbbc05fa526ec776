"""Rooms, roles and services: `!help`, `!room …`, `!role`, `!service`, `!services`."""

from bot.commands.family import Family
from bot.commands.rooms.commands import register

FAMILY = Family(name="rooms", commands=register)
