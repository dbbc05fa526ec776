"""Answers in a proposal's native poll: a vote like `!vote`, or a refusal told to the voter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.commands.proposals.electorate import poll_refusal, voter
from bot.commands.proposals.flow import POLL_RESPONSE, PosterOut, cast, settle
from bot.core.consensus import State
from bot.core.electorate import NoVote
from bot.core.roles import Role, role_from_power
from bot.i18n import _ as N_
from bot.reply import Mention, Reply
from bot.storage import repo
from bot.storage.models import Outbox
from bot.storage.proposals import Proposal


def _answer(content: dict) -> str | None:
    body = content.get(POLL_RESPONSE) or content.get("m.poll.response") or {}
    answers = body.get("answers") if isinstance(body, dict) else None
    if answers is None:
        answers = content.get("m.selections")
    if not isinstance(answers, list) or not answers:
        return None
    first = answers[0]
    return first if first in ("agree", "object", "abstain") else None


def _proposal_of_poll(s: Session, room_id: str, start_event_id: str) -> Proposal | None:
    """The proposal of this room whose poll started with that event."""
    ref = s.scalar(select(Outbox.ref).where(Outbox.event_id == start_event_id,
                                            Outbox.room_id == room_id))
    number = ref.removeprefix("poll:") if ref else ""
    if number == ref or not number.isdigit():
        return None
    p = s.get(Proposal, int(number))
    return p if p is not None and p.room.matrix_id == room_id else None


def on_poll_response(s: Session, ev, now: datetime, poster, *, prefix: str = "!") -> bool:
    """A vote from the native poll counts like `!vote`; refusals are told to the voter."""
    if ev.kind != "poll.response":
        return False
    content = ev.source.get("content", {})
    start = (content.get("m.relates_to") or {}).get("event_id")
    p = _proposal_of_poll(s, ev.room_id, start) if start else None
    choice = _answer(content)
    if p is None or choice is None:
        return False
    room = p.room
    out = PosterOut(s, poster, room)
    key = f"poll-answer:{ev.event_id}"

    def tell(msg) -> bool:
        out.notice(Reply([msg], mentions=(ev.sender,)), key=key)
        return True

    explicit = repo.explicit_role(s, room, ev.sender)
    role = Role[explicit.upper()] if explicit else role_from_power(ev.power)
    if role < Role.MEMBER:
        return tell(N_("{user}, observers can read but not vote; your answer in the poll on "
                       "{id} was not counted.", user=Mention(ev.sender), id=p.short_id))
    service, named = voter(s, p, room, ev.sender)
    if isinstance(service, NoVote):
        return tell(poll_refusal(service, p, ev.sender, named))
    settle(s, p, room, now, out)
    if p.state != State.OPEN:
        return tell(N_("{user}, {id} is closed; your answer in the poll was not counted.",
                       user=Mention(ev.sender), id=p.short_id))
    t = cast(s, p, room, service=service, user=ev.sender, choice=choice, reason=None, now=now,
             source="poll", out=out)
    if choice == "object" and t.state is State.OPEN:
        tell(N_("{user}, your objection to {id} is counted for {service}. Please give its "
                "reason with {prefix}vote {id} object <reason>.", user=Mention(ev.sender),
                id=p.short_id, service=service, prefix=prefix))
    return True
