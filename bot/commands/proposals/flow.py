"""A proposal's life after its creation: votes, closing, and the end of its native poll.

Every change is written with the messages that report it, in one transaction, so each
outcome and poll end goes out exactly once: the functions here add them to `out`, which
the caller queues (a command's `ctx.out`, or what due work and poll answers return).
"""

from __future__ import annotations

from datetime import datetime

from bot.commands.proposals.electorate import electorate_of, participation
from bot.commands.proposals.texts import POLL_END, outcome_reply, poll_end_content
from bot.core.consensus import Choice, Rule, State, Tally, Vote, tally
from bot.faults import crash_point
from bot.outgoing import Outgoing, to_room
from bot.storage.db import Session
from bot.storage.models import Room
from bot.storage.proposals import Proposal, VoteRecord, add_vote, audit, next_seq


def current_tally(s: Session, p: Proposal, room: Room, now: datetime) -> Tally:
    """The proposal's state now, counted over its fixed electorate."""
    services = electorate_of(s, p, room).services
    votes = [Vote(service=v.service, user=v.user_id, choice=Choice(v.choice), at=v.at,
                  reason=v.reason, seq=v.seq) for v in p.votes]
    return tally(services, votes, Rule(p.rule), p.deadline, now, withdrawn_at=p.withdrawn_at)


def settle(s: Session, p: Proposal, room: Room, now: datetime, out: list[Outgoing]) -> Tally:
    """Close the proposal if its votes or the clock say so: record it, post the outcome once."""
    t = current_tally(s, p, room, now)
    if p.state != State.OPEN or t.state is State.OPEN:
        return t
    p.state, p.closed_at, p.outcome_posted = t.state.value, t.closed_at, True
    taking_part = participation(p, electorate_of(s, p, room))
    out.append(to_room(room, outcome_reply(p, t, taking_part), key=f"proposal-outcome:{p.id}",
                       urgent=True))
    end_poll(s, p, room, out)
    audit(s, room, "closed", now, proposal=p, outcome=t.state.value, missing=list(t.missing),
          objections=[{"service": sv, "reason": r} for sv, r in t.objections],
          counted={sv: v.choice.value for sv, v in t.counted.items()})
    crash_point("proposal.closed")
    return t


def end_poll(s: Session, p: Proposal, room: Room, out: list[Outgoing]) -> None:
    """End the native poll; if it was not sent yet, due work ends it once it is."""
    start = p.poll_event_id
    if start is None:
        return
    if start:
        out.append(Outgoing(room.matrix_id, poll_end_content(p, start, room.language),
                            f"proposal-poll-end:{p.id}", POLL_END, urgent=True))
    p.poll_ended = True


def cast_at(sent_at: datetime | None, now: datetime) -> datetime:
    """When a vote was cast: when its event was sent, not when the bot got to it (it may
    have been down, or busy, meanwhile); never later than now."""
    return min(sent_at, now) if sent_at is not None else now


def cast(s: Session, p: Proposal, room: Room, *, service: str, user: str, choice: str,
         reason: str | None, at: datetime, source: str, out: list[Outgoing]) -> Tally:
    """Record one vote of `service`, cast `at` (the proposal was open then), and close the
    proposal if that completes it. Not at its deadline: votes cast before the deadline may
    still be on their way to the bot; the clock closes it once they are read."""
    before = {v.service: v.choice for v in p.votes}
    add_vote(s, p, VoteRecord(service=service, user_id=user, choice=choice, reason=reason,
                              at=at, seq=next_seq(p), source=source))
    audit(s, room, "vote-changed" if service in before else "vote", at, proposal=p,
          user=user, service=service, choice=choice, reason=reason, source=source,
          previous=before.get(service))
    return settle(s, p, room, at, out)
