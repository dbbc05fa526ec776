"""Action items: who does what by when, the owner's reminder on the due date, and the open
ones in every meeting reminder."""

from bot.commands.actions.commands import register
from bot.commands.actions.due import ActionReminders
from bot.commands.actions.texts import open_actions
from bot.commands.family import Assembly, Family


def _due_work(assembly: Assembly) -> list[ActionReminders]:
    return [ActionReminders(assembly.config)]


FAMILY = Family(name="actions", commands=register, due_work=_due_work,
                reminder_extras=(open_actions,))
