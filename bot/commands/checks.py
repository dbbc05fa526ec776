"""Who may do what to what: small declared checks, composed where a rule needs two.

A command's declaration says the role it needs (bot.commands.framework); these checks are
the rules about the thing acted on (its proposer, author or owner, who may vote on it), used
alike by commands and by answers in a native poll, each of which is told why in its own words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.commands.errors import CheckFailure
from bot.core.roles import Role, role_from_power
from bot.i18n import Msg
from bot.i18n import _ as N_
from bot.reply import Mention
from bot.storage import rooms
from bot.storage.db import Session
from bot.storage.models import Room


@dataclass(frozen=True)
class Actor:
    """Who acts, and where: the sender of a command (`Context.actor`) or of a poll answer."""

    session: Session
    room: Room
    sender: str
    role: Role
    prefix: str  # for the commands a refusal names


def role_in(s: Session, room: Room | None, user: str, power: int) -> Role:
    """A user's role in a room: the one given with `!role`, else the one of their power."""
    explicit = rooms.explicit_role(s, room, user) if room else None
    return Role[explicit.upper()] if explicit else role_from_power(power)


@dataclass(frozen=True)
class Check:
    name: str
    allows: Callable[[Actor, Any], bool]  # (who acts, the thing acted on)
    # what a refused command is told; None for a check only used within another
    refusal: Callable[[Actor, Any], Msg] | None = None
    # what the sender of a refused answer in a poll is told (it names them: it is no reply)
    poll_refusal: Callable[[Actor, Any], Msg] | None = None

    def require(self, who: Actor, subject: Any = None) -> None:
        """Raise CheckFailure, with the reason, unless `who` may."""
        if not self.allows(who, subject):
            raise CheckFailure(self.refusal(who, subject))

    def refuses_answer(self, who: Actor, subject: Any) -> Msg | None:
        """What the sender of an answer in a poll is told when this check refuses it."""
        return None if self.allows(who, subject) else self.poll_refusal(who, subject)


def either(first: Check, second: Check, *, refusal: Callable[[Actor, Any], Msg]) -> Check:
    """Allowed when one of the two allows it."""
    return Check(f"{first.name}|{second.name}",
                 lambda who, subject: first.allows(who, subject) or second.allows(who, subject),
                 refusal)


def at_least(role: Role) -> Check:
    return Check(role.name.lower(), lambda who, subject: who.role >= role)


MAY_ACT = Check(
    "member", lambda who, subject: who.role >= Role.MEMBER,
    lambda who, subject: N_("Observers can read but not act in this room."),
    lambda who, p: N_("{user}, observers can read but not vote; your answer in the poll on {id} "
                      "was not counted.", user=Mention(who.sender), id=p.short_id))
IS_PROPOSER = Check("proposer", lambda who, proposal: who.sender == proposal.proposer)
IS_AUTHOR = Check("author", lambda who, item: who.sender == item.author)
IS_OWNER = Check("owner", lambda who, action: who.sender == action.owner)

PROPOSER_OR_CHAIR = either(IS_PROPOSER, at_least(Role.CHAIR), refusal=lambda who, p: N_(
    "Only its proposer or a chair can withdraw {id}.", id=p.short_id))
AUTHOR_OR_COORDINATOR = either(IS_AUTHOR, at_least(Role.COORDINATOR), refusal=lambda who, i: N_(
    "Only its author or a coordinator can remove {id}.", id=i.short_id))
OWNER_OR_COORDINATOR = either(IS_OWNER, at_least(Role.COORDINATOR), refusal=lambda who, t: N_(
    "Only its owner or a coordinator can mark {id} as done.", id=t.short_id))
