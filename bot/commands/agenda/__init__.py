"""The agenda of each meeting occurrence: items, their order and timing, carrying untreated
items on, the call for items and the final agenda at the deadline."""

from bot.commands.agenda.commands import register
from bot.commands.agenda.due import AgendaDeadlines
from bot.commands.agenda.texts import agenda_so_far
from bot.commands.family import Assembly, Family


def _due_work(assembly: Assembly) -> list[AgendaDeadlines]:
    return [AgendaDeadlines(assembly.config)]


FAMILY = Family(name="agenda", commands=register, due_work=_due_work,
                reminder_extras=(agenda_so_far,))
