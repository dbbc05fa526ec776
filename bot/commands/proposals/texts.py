"""What the bot says about proposals: labels, a proposal's subject, its native poll, its
outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.consensus import State, Tally
from bot.i18n import Msg, languages_of, render
from bot.i18n import _ as N_
from bot.reply import Bullets, Mention, Reply
from bot.storage.proposals import Proposal

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
