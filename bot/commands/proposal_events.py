"""What happens to proposals without a command: the clock and answers in the native poll."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.commands.proposal_flow import (
    POLL_RESPONSE,
    People,
    PosterOut,
    cast,
    current_tally,
    end_poll,
    settle,
    subject,
)
from bot.core.consensus import State, reminder_due, services_to_remind
from bot.core.roles import Role, role_from_power
from bot.i18n import When
from bot.i18n import _ as N_
from bot.reply import Bullets, Mention, Reply
from bot.storage import repo
from bot.storage.models import Outbox
from bot.storage.proposals import Proposal, audit, open_proposals


def _reminder_at(p: Proposal) -> datetime | None:
    """When the reminder is due, or None once it was sent."""
    if p.reminder_sent_at is not None:
        return None
    return reminder_due(p.deadline, p.created_at)


def _unended_polls(s: Session) -> list[tuple[Proposal, str]]:
    """Closed proposals whose poll start has been sent since, but is not ended yet."""
    rows = s.scalars(select(Proposal).where(Proposal.state != State.OPEN.value,
                                            Proposal.poll_ended.is_(False)))
    return [(p, e) for p in rows if (e := repo.sent_event_id(s, p.poll_ref)) is not None]


class ProposalClock:
    """Deadlines, reminders, and polls that could not be ended when their proposal closed."""

    name = "proposals"

    def next_due(self, s: Session, now: datetime) -> datetime | None:
        dues = []
        for p in open_proposals(s):
            dues.append(p.deadline)
            if (at := _reminder_at(p)) is not None and at < p.deadline:
                dues.append(at)
        if _unended_polls(s):
            dues.append(now)
        return min(dues) if dues else None

    def run_due(self, s: Session, now: datetime, poster) -> int:
        done = 0
        for p in open_proposals(s):
            if now >= p.deadline:  # the room is loaded only for what is due
                settle(s, p, p.room, now, PosterOut(s, poster, p.room))
                done += p.state != State.OPEN
            elif (at := _reminder_at(p)) is not None and now >= at:
                done += remind(s, p, now, PosterOut(s, poster, p.room))
        for p, _start in _unended_polls(s):
            end_poll(s, p, p.room, PosterOut(s, poster, p.room))
            done += 1
        return done


def remind(s: Session, p: Proposal, now: datetime, out: PosterOut) -> int:
    """Mention the representatives of the services that have not voted; once."""
    room = p.room
    p.reminder_sent_at = now
    missing = services_to_remind(current_tally(s, p, room, now))
    if not missing:
        return 0
    reps = repo.services(s, room)
    users = tuple(u for sv in missing for u in reps.get(sv, ()))
    reply = Reply([N_("Reminder: **{id}** closes {when}: {subject}", id=p.short_id,
                      when=When(p.deadline.astimezone(_zone(room))), subject=subject(p)),
                   N_("Still to vote:"),
                   Bullets(tuple(N_("{service}: {people}", service=sv,
                                    people=People(tuple(reps.get(sv, ()))))
                                 for sv in missing))],
                  mentions=users)
    out.notice(reply, key=f"proposal-reminder:{p.id}", urgent=True)
    audit(s, room, "reminded", now, proposal=p, missing=list(missing))
    return 1


def _zone(room):
    from zoneinfo import ZoneInfo

    return ZoneInfo(room.timezone)


# ---- the native poll -----------------------------------------------------------------------

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
    service = repo.service_of(s, room, ev.sender)
    if service is None:
        return tell(N_("{user}, you do not represent a service in this room, so your answer "
                       "in the poll on {id} was not counted.", user=Mention(ev.sender),
                       id=p.short_id))
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
