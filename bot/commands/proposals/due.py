"""A proposal's due work: its deadline, the reminder before it, and a native poll that could
not be ended when its proposal closed."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.commands.proposals.electorate import electorate_of
from bot.commands.proposals.flow import current_tally, end_poll, settle
from bot.commands.proposals.texts import People, subject
from bot.core.consensus import State, reminder_due, services_to_remind
from bot.core.electorate import who_may_vote
from bot.i18n import When
from bot.i18n import _ as N_
from bot.outgoing import Outgoing, to_room
from bot.reply import Bullets, Reply
from bot.storage import rooms
from bot.storage.db import Session
from bot.storage.proposals import Proposal, audit, open_proposals, unended_polls


def _reminder_at(p: Proposal) -> datetime | None:
    """When the reminder is due, or None once it was sent."""
    if p.reminder_sent_at is not None:
        return None
    return reminder_due(p.deadline, p.created_at)


class ProposalDueWork:
    """Deadlines, reminders, and polls that could not be ended when their proposal closed."""

    name = "proposals"

    def next_due(self, s: Session, now: datetime) -> datetime | None:
        dues = []
        for p in open_proposals(s):
            dues.append(p.deadline)
            if (at := _reminder_at(p)) is not None and at < p.deadline:
                dues.append(at)
        if unended_polls(s):
            dues.append(now)
        return min(dues) if dues else None

    def run_due(self, s: Session, now: datetime, out: list[Outgoing]) -> int:
        done = 0
        for p in open_proposals(s):
            if now >= p.deadline:  # the room is loaded only for what is due
                settle(s, p, p.room, now, out)
                done += p.state != State.OPEN
            elif (at := _reminder_at(p)) is not None and now >= at:
                done += remind(s, p, now, out)
        for p in unended_polls(s):
            end_poll(s, p, p.room, out)
            done += 1
        return done


def remind(s: Session, p: Proposal, now: datetime, out: list[Outgoing]) -> int:
    """Mention the representatives of the services that have not voted; once."""
    room = p.room
    p.reminder_sent_at = now
    missing = services_to_remind(current_tally(s, p, room, now))
    if not missing:
        return 0
    reps = who_may_vote(electorate_of(s, p, room), rooms.services(s, room))
    users = tuple(u for sv in missing for u in reps.get(sv, ()))
    reply = Reply([N_("Reminder: **{id}** closes {when}: {subject}", id=p.short_id,
                      when=When(p.deadline.astimezone(ZoneInfo(room.timezone))),
                      subject=subject(p)),
                   N_("Still to vote:"),
                   Bullets(tuple(N_("{service}: {people}", service=sv,
                                    people=People(tuple(reps.get(sv, ()))))
                                 for sv in missing))],
                  mentions=users)
    out.append(to_room(room, reply, key=f"proposal-reminder:{p.id}", urgent=True))
    audit(s, room, "reminded", now, proposal=p, missing=list(missing))
    return 1
