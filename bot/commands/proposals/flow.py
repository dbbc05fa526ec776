"""A proposal's life after its creation: votes, closing, the native poll, reminders.

Every change is written with the messages that report it, in one transaction, so each outcome,
poll end and reminder goes out exactly once. Messages go either after a command's reply
(`CommandOut`, through `ctx.emit`) or straight to the outbox under a key of their own
(`PosterOut`, for poll answers and due work).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.commands.framework import Context
from bot.commands.proposals.electorate import electorate_of, participation
from bot.core.consensus import Choice, Rule, State, Tally, Vote, tally
from bot.i18n import Msg, languages_of, render
from bot.i18n import _ as N_
from bot.reply import Bullets, Mention, Reply, notice_content
from bot.storage import repo
from bot.storage.models import Room
from bot.storage.proposals import Proposal, VoteRecord, audit, next_seq

POLL_START = "org.matrix.msc3381.poll.start"
POLL_END = "org.matrix.msc3381.poll.end"
POLL_RESPONSE = "org.matrix.msc3381.poll.response"
TEXT = "org.matrix.msc1767.text"

CHOICE_LABELS = {"agree": N_("agree"), "object": N_("object"), "abstain": N_("abstain")}
STATE_LABELS = {
    "open": N_("open"), "adopted": N_("adopted"), "rejected": N_("rejected"),
    "no-consensus": N_("no consensus"), "withdrawn": N_("withdrawn"),
}


@dataclass(frozen=True)
class People:
    """Several user pills, comma-separated."""

    users: tuple[str, ...]

    def __render__(self, lang: str, as_html: bool) -> str:
        return ", ".join(Mention(u).__render__(lang, as_html) for u in self.users)


@dataclass(frozen=True)
class Joined:
    """Several messages, comma-separated, each in the reader's language."""

    items: tuple[Any, ...]

    def __render__(self, lang: str, as_html: bool) -> str:
        return ", ".join(render(i, lang, as_html=as_html) for i in self.items)


# ---- where messages go ---------------------------------------------------------------------

class CommandOut:
    """Messages that follow a command's reply (queued with it by the dispatcher's caller)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def notice(self, reply: Reply, *, key: str, urgent: bool = False) -> None:
        self.ctx.emit("m.room.message", notice_content(reply, self.ctx.room.language),
                      urgent=urgent)

    def event(self, event_type: str, content: dict, *, key: str, ref: str | None = None,
              urgent: bool = False) -> None:
        self.ctx.emit(event_type, content, ref, urgent=urgent)


class PosterOut:
    """Messages queued straight in the outbox under their own unique key."""

    def __init__(self, s: Session, poster: Any, room: Room):
        self.s, self.poster, self.room = s, poster, room

    def notice(self, reply: Reply, *, key: str, urgent: bool = False) -> None:
        self.poster.post(self.s, self.room.matrix_id, reply, self.room.language, key=key,
                         mentions=reply.mentions, urgent=urgent)

    def event(self, event_type: str, content: dict, *, key: str, ref: str | None = None,
              urgent: bool = False) -> None:
        self.poster.enqueue(self.s, self.room.matrix_id, content, key=key,
                            event_type=event_type, ref=ref, urgent=urgent)


# ---- texts ---------------------------------------------------------------------------------

def subject(p: Proposal) -> Msg:
    """What the proposal is about, in one line (never more than was typed in this room)."""
    if p.kind == "jib-insert":
        return N_("insert case {ref} into the JIB: {text}", ref=p.case_ref, text=p.title)
    if p.kind == "jib-remove":
        return N_("remove case {ref} from the JIB: {text}", ref=p.case_ref, text=p.title)
    return N_("{text}", text=p.title)


def plain(msg: Any, language: str) -> str:
    return " / ".join(render(msg, lang, as_html=False) for lang in languages_of(language))


def poll_start_content(p: Proposal, language: str, prefix: str) -> dict:
    question = plain(N_("{id}: {subject}", id=p.short_id, subject=subject(p)), language)
    answers = [{"id": c, TEXT: plain(CHOICE_LABELS[c], language)} for c in CHOICE_LABELS]
    fallback = plain(N_("Proposal {id}: {subject}. Vote with {prefix}vote {id} "
                        "agree|object|abstain [reason].", id=p.short_id, subject=subject(p),
                        prefix=prefix), language)
    return {
        POLL_START: {"question": {TEXT: question}, "kind": "org.matrix.msc3381.poll.disclosed",
                     "max_selections": 1, "answers": answers},
        TEXT: fallback,
        "body": fallback,
    }


def poll_end_content(p: Proposal, start_event_id: str, language: str) -> dict:
    text = plain(N_("The poll on {id} has ended: {state}.", id=p.short_id,
                    state=STATE_LABELS[p.state]), language)
    return {"m.relates_to": {"rel_type": "m.reference", "event_id": start_event_id},
            POLL_END: {}, TEXT: text, "body": text}


def outcome_reply(p: Proposal, t: Tally, taking_part: Sequence[Any] = ()) -> Reply:
    """The outcome; `taking_part` names who took part and who was absent (`present` rule)."""
    if t.state is State.ADOPTED:
        reply = Reply([N_("**{id} ADOPTED**: {subject}", id=p.short_id, subject=subject(p))])
        votes = tuple(N_("{service}: {choice}", service=s, choice=CHOICE_LABELS[v.choice])
                      for s, v in t.counted.items())
        if votes:
            reply.add(Bullets(votes))
    elif t.state is State.REJECTED:
        reply = Reply([N_("**{id} REJECTED**: {subject}", id=p.short_id, subject=subject(p)),
                       N_("Objections:"),
                       Bullets(tuple(N_("{service}: {reason}", service=s,
                                        reason=r or N_("(no reason given)"))
                                     for s, r in t.objections))])
    else:
        reply = Reply([N_("**{id}: NO CONSENSUS**: {subject}", id=p.short_id,
                          subject=subject(p))])
        if t.missing:
            reply.add(N_("No vote from: {services}.", services=", ".join(t.missing)))
        else:
            reply.add(N_("Not enough services voted."))
    return reply.add(*taking_part)


# ---- votes and closing ---------------------------------------------------------------------

def current_tally(s: Session, p: Proposal, room: Room, now: datetime) -> Tally:
    """The proposal's state now, counted over its fixed electorate."""
    services = electorate_of(s, p, room).services
    votes = [Vote(service=v.service, user=v.user_id, choice=Choice(v.choice), at=v.at,
                  reason=v.reason, seq=v.seq) for v in p.votes]
    return tally(services, votes, Rule(p.rule), p.deadline, now, withdrawn_at=p.withdrawn_at)


def settle(s: Session, p: Proposal, room: Room, now: datetime, out) -> Tally:
    """Close the proposal if its votes or the clock say so: record it, post the outcome once."""
    t = current_tally(s, p, room, now)
    if p.state != State.OPEN or t.state is State.OPEN:
        return t
    p.state, p.closed_at, p.outcome_posted = t.state.value, t.closed_at, True
    taking_part = participation(p, electorate_of(s, p, room))
    out.notice(outcome_reply(p, t, taking_part), key=f"proposal-outcome:{p.id}", urgent=True)
    end_poll(s, p, room, out)
    audit(s, room, "closed", now, proposal=p, outcome=t.state.value, missing=list(t.missing),
          objections=[{"service": sv, "reason": r} for sv, r in t.objections],
          counted={sv: v.choice.value for sv, v in t.counted.items()})
    return t


def end_poll(s: Session, p: Proposal, room: Room, out) -> None:
    """End the native poll; if it was not sent yet, due work ends it once it is."""
    start = repo.sent_event_id(s, p.poll_ref)
    if start is None:
        return
    if start:
        out.event(POLL_END, poll_end_content(p, start, room.language),
                  key=f"proposal-poll-end:{p.id}", urgent=True)
    p.poll_ended = True


def cast(s: Session, p: Proposal, room: Room, *, service: str, user: str, choice: str,
         reason: str | None, now: datetime, source: str, out) -> Tally:
    """Record one vote of `service` (the proposal must be open) and close it if complete."""
    before = {v.service: v.choice for v in p.votes}
    p.votes.append(VoteRecord(service=service, user_id=user, choice=choice, reason=reason,
                              at=now, seq=next_seq(p), source=source))
    s.flush()
    audit(s, room, "vote-changed" if service in before else "vote", now, proposal=p,
          user=user, service=service, choice=choice, reason=reason, source=source,
          previous=before.get(service))
    return settle(s, p, room, now, out)
