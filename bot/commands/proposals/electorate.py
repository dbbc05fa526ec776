"""Who votes on a proposal: the electorate fixed when it opens (the room's services then, or
under the `present` rule those present at its meeting), and what someone without a vote is
told. The rules themselves are in `bot.core.electorate` and `bot.core.attendance`."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.commands.checks import Actor, Check
from bot.commands.framework import Context, UserError
from bot.commands.meetings.attendance import held, on_a_later_day
from bot.core.attendance import present_services
from bot.core.electorate import Electorate, NoVote, open_electorate, voting_service
from bot.core.recurrence import Occurrence, to_aware
from bot.i18n import Msg, When
from bot.i18n import _ as N_
from bot.reply import Mention
from bot.storage import meetings as meeting_store
from bot.storage import occurrences, rooms
from bot.storage.db import Session
from bot.storage.meetings import Meeting
from bot.storage.models import Room
from bot.storage.proposals import Proposal, electorate

RULE_LABELS = {"unanimity": N_("unanimity"), "no-objection": N_("no objection"),
               "present": N_("consensus of the services present")}


def electorate_of(s: Session, p: Proposal, room: Room) -> Electorate:
    """The electorate fixed when `p` opened. A proposal closed before electorates were kept
    reads against the room's services, as it was counted then."""
    return electorate(p) or open_electorate(rooms.services(s, room))


def opening(ctx: Context, rule: str, meeting: int | None,
            on: date | None) -> tuple[Electorate, tuple[Meeting, Occurrence] | None]:
    """The electorate of a proposal opening now, and the occurrence it is made at."""
    if on is not None and meeting is None:
        raise UserError(N_("Say which meeting with --meeting <id> when you give --date."))
    if rule == "present" and meeting is None:
        raise UserError(N_("The rule present is the consensus of the services present at a "
                           "meeting: say which with --meeting <id> [--date <date>]."))
    roster = rooms.services(ctx.session, ctx.room)
    if meeting is None:
        return open_electorate(roster), None
    row, occ = held(ctx, meeting, on)
    if rule != "present":
        return open_electorate(roster), (row, occ)
    if on_a_later_day(occ, ctx.now):
        raise UserError(N_("Meeting {id} of {when} has not begun: a proposal under the "
                           "consensus of the services present opens on the day of the "
                           "meeting, when it is known who is there.", id=row.short_id,
                           when=When(occ.start, "weekday-datetime")), show_usage=False)
    marks = occurrences.marks(ctx.session, row.id, occ.original)
    here = present_services(roster, marks, meeting_store.rsvps(ctx.session, row, occ.original))
    if not here:
        when = When(occ.start, "weekday-datetime")
        why = (N_("none of the people marked present represents a service") if marks else
               N_("nobody is marked present yet, and no representative of a service answered "
                  "yes to the invitation"))
        raise UserError(N_("Not recorded: no service is present at {id} ({title}) of {when}: "
                           "{why}. A coordinator marks who is there with {prefix}meeting "
                           "present {id} <@user…>.", id=row.short_id, title=row.title,
                           when=when, why=why, prefix=ctx.prefix), show_usage=False)
    return open_electorate(roster, here), (row, occ)


def voter(s: Session, p: Proposal, room: Room, user: str) -> tuple[str | NoVote, str | None]:
    """The service `user` votes for on `p`, or why they have no vote; and the service to
    name in a refusal."""
    e = electorate_of(s, p, room)
    current = rooms.service_of(s, room, user)
    return voting_service(e, user, current), e.recorded().get(user) or current


def refusal(reason: NoVote, p: Proposal, service: str | None, prefix: str,
            voters: tuple[str, ...]) -> Msg:
    if reason is NoVote.ABSENT:
        return N_("{service} was not present at the meeting when {id} opened: only the "
                  "services present then vote on it ({services}).", service=service,
                  id=p.short_id, services=", ".join(voters))
    if reason is NoVote.LATER:
        return N_("{service} joined this room after {id} opened: the services that vote on "
                  "it were fixed then ({services}).", service=service, id=p.short_id,
                  services=", ".join(voters))
    return N_("You do not represent a service in this room, so you cannot vote. A "
              "coordinator can set it with {prefix}service <@user> <service>.", prefix=prefix)


def poll_refusal(reason: NoVote, p: Proposal, sender: str, service: str | None) -> Msg:
    user = Mention(sender)
    if reason is NoVote.ABSENT:
        return N_("{user}, {service} was not present at the meeting when {id} opened, so "
                  "your answer in the poll was not counted.", user=user, service=service,
                  id=p.short_id)
    if reason is NoVote.LATER:
        return N_("{user}, {service} joined this room after {id} opened, so your answer in "
                  "the poll was not counted.", user=user, service=service, id=p.short_id)
    return N_("{user}, you do not represent a service in this room, so your answer in the "
              "poll on {id} was not counted.", user=user, id=p.short_id)


def _may_vote(who: Actor, p: Proposal) -> bool:
    return not isinstance(voter(who.session, p, who.room, who.sender)[0], NoVote)


def _refused_vote(who: Actor, p: Proposal) -> Msg:
    reason, named = voter(who.session, p, who.room, who.sender)
    return refusal(reason, p, named, who.prefix, electorate_of(who.session, p, who.room).services)


def _refused_answer(who: Actor, p: Proposal) -> Msg:
    reason, named = voter(who.session, p, who.room, who.sender)
    return poll_refusal(reason, p, who.sender, named)


# May vote on the proposal: its service is in the electorate fixed when it opened.
MAY_VOTE = Check("vote", _may_vote, _refused_vote, _refused_answer)


def participation(p: Proposal, e: Electorate) -> list[Any]:
    """Under the `present` rule: the services that took part and those absent."""
    if p.rule != "present" and not e.absent:
        return []
    lines: list[Any] = [N_("Taking part: {services}.", services=", ".join(e.services))]
    if e.absent:
        lines.append(N_("Absent: {services}.", services=", ".join(e.absent_services)))
    return lines


def meeting_line(s: Session, p: Proposal) -> Msg | None:
    """The occurrence a proposal was made at, if any."""
    if p.meeting_id is None or p.occurrence is None:
        return None
    meeting = s.get(Meeting, p.meeting_id)
    series = meeting_store.load_series(s, meeting)
    start = to_aware(series.moved.get(p.occurrence, p.occurrence), series.tz)
    return N_("At meeting {id} ({title}) of {when}", id=meeting.short_id, title=meeting.title,
              when=When(start, "weekday-datetime"))
