"""Consensus proposals: one vote per service, by command or in the native poll; deadlines,
reminders and outcomes; the audit trail of decisions."""

from functools import partial

from bot.commands.family import Assembly, Family
from bot.commands.proposals.commands import register
from bot.commands.proposals.due import ProposalDueWork
from bot.commands.proposals.polls import on_poll_response


def _due_work(assembly: Assembly) -> list[ProposalDueWork]:
    return [ProposalDueWork()]


def _event_handlers(assembly: Assembly) -> list:
    return [partial(on_poll_response, prefix=assembly.config.bot.command_prefixes[0])]


FAMILY = Family(name="proposals", commands=register, due_work=_due_work,
                event_handlers=_event_handlers)
