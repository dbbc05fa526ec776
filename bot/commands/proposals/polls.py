"""Answers in a proposal's native poll: a vote like `!vote`, or a refusal told to the voter."""

from __future__ import annotations

from datetime import datetime

from bot.commands.checks import MAY_ACT, Actor, role_in
from bot.commands.family import Event
from bot.commands.proposals.electorate import MAY_VOTE, voter
from bot.commands.proposals.flow import cast, cast_at, settle
from bot.commands.proposals.texts import POLL_RESPONSE
from bot.core.consensus import State
from bot.i18n import _ as N_
from bot.outgoing import Outgoing, to_room
from bot.reply import Mention, Reply
from bot.storage.db import Session
from bot.storage.proposals import by_poll


def _answer(content: dict) -> str | None:
    body = content.get(POLL_RESPONSE) or content.get("m.poll.response") or {}
    answers = body.get("answers") if isinstance(body, dict) else None
    if answers is None:
        answers = content.get("m.selections")
    if not isinstance(answers, list) or not answers:
        return None
    first = answers[0]
    return first if first in ("agree", "object", "abstain") else None


def on_poll_response(s: Session, ev: Event, now: datetime, *,
                     prefix: str = "!") -> list[Outgoing] | None:
    """A vote from the native poll counts like `!vote`; refusals are told to the voter.
    None: the event is not an answer to a proposal's poll."""
    if ev.kind != "poll.response":
        return None
    start = (ev.content.get("m.relates_to") or {}).get("event_id")
    p = by_poll(s, ev.room_id, start) if start else None
    choice = _answer(ev.content)
    if p is None or choice is None:
        return None
    room = p.room
    out: list[Outgoing] = []

    def tell(msg) -> list[Outgoing]:
        out.append(to_room(room, Reply([msg], mentions=(ev.sender,)),
                           key=f"poll-answer:{ev.event_id}"))
        return out

    who = Actor(s, room, ev.sender, role_in(s, room, ev.sender, ev.power), prefix)
    for check in (MAY_ACT, MAY_VOTE):  # what `!vote` asks: its role, then its vote
        if (refused := check.refuses_answer(who, p)) is not None:
            return tell(refused)
    service, _ = voter(s, p, room, ev.sender)
    at = cast_at(ev.sent_at, now)
    settle(s, p, room, at, out)  # past its deadline when the answer was given: closed first
    if p.state != State.OPEN:
        return tell(N_("{user}, {id} is closed; your answer in the poll was not counted.",
                       user=Mention(ev.sender), id=p.short_id))
    t = cast(s, p, room, service=service, user=ev.sender, choice=choice, reason=None, at=at,
             source="poll", out=out)
    if choice == "object" and t.state is State.OPEN:
        tell(N_("{user}, your objection to {id} is counted for {service}. Please give its "
                "reason with {prefix}vote {id} object <reason>.", user=Mention(ev.sender),
                id=p.short_id, service=service, prefix=prefix))
    return out
