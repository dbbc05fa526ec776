"""Meetings: one-off and repeating, RSVPs, calendar files, and the reminders before each
occurrence (with what the other families add to them)."""

from bot.commands.family import Assembly, Family
from bot.commands.meetings.commands import register
from bot.commands.meetings.due import MeetingReminders


def _due_work(assembly: Assembly) -> list[MeetingReminders]:
    return [MeetingReminders(assembly.config, extras=assembly.reminder_extras)]


FAMILY = Family(name="meetings", commands=register, due_work=_due_work)
