"""Meetings: one-off and repeating, RSVPs and attendance, calendar files, and the reminders
before each occurrence (with what the other families add to them)."""

from bot.commands.family import Assembly, Family
from bot.commands.framework import Registry
from bot.commands.meetings import attendance, commands
from bot.commands.meetings.due import MeetingReminders


def _commands(r: Registry) -> None:
    commands.register(r)
    attendance.register(r)


def _due_work(assembly: Assembly) -> list[MeetingReminders]:
    return [MeetingReminders(assembly.config, extras=assembly.reminder_extras)]


FAMILY = Family(name="meetings", commands=_commands, due_work=_due_work)
