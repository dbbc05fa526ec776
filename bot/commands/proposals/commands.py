"""The commands of consensus proposals: `!propose`, `!jib`, `!vote`, `!proposal`,
`!proposals`, `!proposal withdraw`.

One vote per service; the bot's own record is authoritative, the native poll is a way to vote.
A proposal's text never holds personal data: a national register number, an e-mail address or
a phone number in it refuses the proposal, and nothing is recorded.
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.commands.checks import PROPOSER_OR_CHAIR
from bot.commands.converters import Choice, Date, Duration, ShortId, Text
from bot.commands.framework import (
    Context,
    Flag,
    Param,
    Registry,
    UserError,
)
from bot.commands.proposals.electorate import (
    MAY_VOTE,
    RULE_LABELS,
    electorate_of,
    meeting_line,
    opening,
    voter,
)
from bot.commands.proposals.flow import cast, cast_at, current_tally, end_poll, settle
from bot.commands.proposals.texts import (
    CHOICE_LABELS,
    POLL_START,
    STATE_LABELS,
    Joined,
    poll_start_content,
    subject,
)
from bot.core.consensus import State
from bot.core.electorate import who_may_vote
from bot.core.guards import check_case_ref, find_personal_data
from bot.i18n import When
from bot.i18n import _ as N_
from bot.outgoing import Outgoing
from bot.reply import Bullets, Reply
from bot.storage import rooms
from bot.storage.proposals import (
    Proposal,
    add_proposal,
    audit,
    by_number,
    fix_electorate,
    listing,
)

DEFAULT_DEADLINE = timedelta(days=5)
DEADLINE = Duration(minimum=timedelta(minutes=10), maximum=timedelta(days=366))
RULES = ("unanimity", "no-objection", "present")
DATA_KINDS = {"nrn": N_("a national register number"), "email": N_("an e-mail address"),
              "phone": N_("a phone number")}


def _choice(label, *values: str) -> Choice:
    conv = Choice(*values)
    conv.label = label
    return conv


def register(r: Registry) -> None:
    deadline = Flag("deadline", DEADLINE, DEFAULT_DEADLINE)
    at = [Flag("meeting", ShortId("M")), Flag("date", Date())]
    r.command("propose", summary=N_("a consensus proposal: one vote per service"),
              params=[Param("title", Text(N_("proposal"), max_length=300), rest=True)],
              flags=[deadline, Flag("rule", _choice(N_("rule"), *RULES), "unanimity"),
                     *at])(propose)
    r.command("jib", summary=N_("propose to insert a case into the JIB or remove it"),
              params=[Param("action", _choice(N_("action"), "insert", "remove")),
                      Param("case_ref", Text(N_("case-ref"), max_length=64)),
                      Param("motivation", Text(N_("motivation"), max_length=300), rest=True)],
              flags=[deadline, Flag("rule", _choice(N_("rule"), "unanimity", "present"),
                                    "unanimity"), *at],
              kinds=("tfl", "tfn"))(jib)
    r.command("vote", summary=N_("your service's vote on a proposal"),
              params=[Param("proposal", ShortId("P")),
                      Param("choice", _choice(N_("vote"), *CHOICE_LABELS)),
                      Param("reason", Text(N_("reason"), max_length=300), required=False,
                            rest=True)])(vote)
    r.command("proposal", summary=N_("a proposal's status, votes and missing services"),
              params=[Param("proposal", ShortId("P"))])(show)
    r.command("proposals", summary=N_("open or closed proposals"),
              params=[Param("which", _choice(N_("state"), "open", "closed"),
                            required=False)])(list_all)
    r.command("proposal withdraw", summary=N_("withdraw a proposal (its proposer or a chair)"),
              params=[Param("proposal", ShortId("P"))])(withdraw)


# ---- creation ------------------------------------------------------------------------------

def refuse_personal_data(*texts: str) -> None:
    """Refuse (naming only the kind of data, never the data) when any text holds some."""
    kinds = {f.kind for t in texts if t for f in find_personal_data(t)}
    if kinds:
        found = [DATA_KINDS[k] for k in ("nrn", "email", "phone") if k in kinds]
        raise UserError(N_("Not recorded: the text contains {found}. Refer to people by case "
                           "reference only.", found=Joined(tuple(found))), show_usage=False)


def propose(ctx: Context, title: str, deadline: timedelta, rule: str, meeting: int | None,
            date: date | None) -> Reply:
    refuse_personal_data(title)
    return _create(ctx, kind="plain", title=title, case_ref=None, deadline=deadline, rule=rule,
                   meeting=meeting, on=date)


def jib(ctx: Context, action: str, case_ref: str, motivation: str, deadline: timedelta,
        rule: str, meeting: int | None, date: date | None) -> Reply:
    refuse_personal_data(case_ref, motivation)
    if not check_case_ref(case_ref, ctx.config.bot.case_ref_pattern):
        raise UserError(N_("{value} is not a case reference: letters, digits and . _ / - "
                           "only, e.g. TFL-BXL-2026-0042.", value=case_ref))
    return _create(ctx, kind=f"jib-{action}", title=motivation, case_ref=case_ref,
                   deadline=deadline, rule=rule, meeting=meeting, on=date)


def _create(ctx: Context, *, kind: str, title: str, case_ref: str | None, deadline: timedelta,
            rule: str, meeting: int | None, on: date | None) -> Reply:
    s, room = ctx.session, ctx.room
    e, at = opening(ctx, rule, meeting, on)
    p = Proposal(room_id=room.id, number=rooms.next_number(s, room, "P"), kind=kind,
                 title=title, case_ref=case_ref, rule=rule, proposer=ctx.sender,
                 created_at=ctx.now, deadline=ctx.now + deadline, state=State.OPEN.value,
                 outcome_posted=False, poll_ended=False,
                 meeting_id=at[0].id if at else None, occurrence=at[1].original if at else None)
    fix_electorate(p, e, ctx.now)
    add_proposal(s, p)
    audit(s, room, "proposed", ctx.now, proposal=p, user=ctx.sender,
          service=rooms.service_of(s, room, ctx.sender), kind=kind, title=title,
          case_ref=case_ref, rule=rule, deadline=p.deadline.isoformat(),
          electorate={sv: list(users) for sv, users in e.voters},
          absent=list(e.absent_services), meeting=at[0].short_id if at else None,
          occurrence=at[1].original.isoformat() if at else None)
    ctx.out.append(Outgoing(ctx.room_id, poll_start_content(p, room.language, ctx.prefix),
                            f"proposal-poll:{p.id}", POLL_START, ref=p.poll_ref))
    reply = Reply([N_("Proposal **{id}** is open until {deadline}: {subject}", id=p.short_id,
                      deadline=When(p.deadline.astimezone(ctx.tz)), subject=subject(p)),
                   N_("Rule: {rule}. Vote in the poll below or with {prefix}vote {id} "
                      "agree|object|abstain [reason].", rule=RULE_LABELS[rule],
                      prefix=ctx.prefix, id=p.short_id)])
    if at:
        reply.add(meeting_line(s, p))
    if e.voters:
        reply.add(N_("Voting: {services}.", services=", ".join(e.services)))
    else:
        reply.add(N_("No services are set yet: a coordinator can add them with "
                     "{prefix}service <@user> <service>.", prefix=ctx.prefix))
    if e.absent:
        reply.add(N_("Absent: {services}.", services=", ".join(e.absent_services)))
    return reply


# ---- votes ---------------------------------------------------------------------------------

def _find(ctx: Context, number: int) -> Proposal:
    p = by_number(ctx.session, ctx.room, number)
    if p is None:
        raise UserError(N_("There is no proposal P{number} in this room.", number=number),
                        show_usage=False)
    return p


def closed_reply(p: Proposal) -> Reply:
    if p.state == State.WITHDRAWN:
        return Reply([N_("{id} was withdrawn; votes are no longer counted.", id=p.short_id)])
    return Reply([N_("{id} is closed ({state}); votes are no longer counted.", id=p.short_id,
                     state=STATE_LABELS[p.state])])


def vote(ctx: Context, proposal: int, choice: str, reason: str | None) -> Reply:
    s, room = ctx.session, ctx.room
    p = _find(ctx, proposal)
    MAY_VOTE.require(ctx.actor, p)
    service, _ = voter(s, p, room, ctx.sender)
    at = cast_at(ctx.sent_at, ctx.now)
    settle(s, p, room, at, ctx.out)  # past its deadline when the vote was cast: closed first
    if p.state != State.OPEN:
        return closed_reply(p)
    if choice == "object" and not reason:
        raise UserError(N_("An objection needs a reason: {prefix}vote {id} object <reason>.",
                           prefix=ctx.prefix, id=p.short_id))
    if reason:
        refuse_personal_data(reason)
    t = cast(s, p, room, service=service, user=ctx.sender, choice=choice, reason=reason,
             at=at, source="command", out=ctx.out)
    reply = Reply([N_("{service} votes **{choice}** on {id}.", service=service,
                      choice=CHOICE_LABELS[choice], id=p.short_id)])
    if t.state is State.OPEN:
        reply.add(N_("Still to vote: {services}.", services=", ".join(t.missing)))
    return reply


# ---- reading -------------------------------------------------------------------------------

def show(ctx: Context, proposal: int) -> Reply:
    s, room = ctx.session, ctx.room
    p = _find(ctx, proposal)
    t = current_tally(s, p, room, ctx.now)
    e = electorate_of(s, p, room)
    reps = who_may_vote(e, rooms.services(s, room))
    reply = Reply([N_("**{id}** — {subject}", id=p.short_id, subject=subject(p))])
    facts = [N_("State: {state}", state=STATE_LABELS[p.state]),
             N_("Rule: {rule}", rule=RULE_LABELS[p.rule]),
             N_("Proposed by {user} on {when}", user=p.proposer,
                when=When(p.created_at.astimezone(ctx.tz))),
             N_("Deadline: {when}", when=When(p.deadline.astimezone(ctx.tz)))]
    if p.closed_at is not None:
        facts.append(N_("Closed: {when}", when=When(p.closed_at.astimezone(ctx.tz))))
    if (made_at := meeting_line(s, p)) is not None:
        facts.append(made_at)
    facts.append(N_("Voting services, fixed when it opened: {services}",
                    services=", ".join(e.services) or "—"))
    if e.absent:
        facts.append(N_("Absent from the meeting: {services}",
                        services=", ".join(e.absent_services)))
    reply.add(Bullets(tuple(facts)))
    if t.counted:
        reply.add(N_("Votes:"), Bullets(tuple(_vote_line(v) for v in t.counted.values())))
    if t.missing and p.state == State.OPEN:
        reply.add(N_("Still to vote:"), Bullets(tuple(
            N_("{service}: {people}", service=sv, people=", ".join(reps.get(sv, ())))
            for sv in t.missing)))
    history = list(p.votes)
    if len(history) > len(t.counted):
        reply.add(N_("History:"), Bullets(tuple(
            N_("{when} — {vote} ({user})", when=When(v.at.astimezone(ctx.tz)), user=v.user_id,
               vote=_vote_line(v)) for v in history)))
    return reply


def _vote_line(v):
    if v.reason:
        return N_("{service}: {choice} — {reason}", service=v.service,
                  choice=CHOICE_LABELS[v.choice], reason=v.reason)
    return N_("{service}: {choice}", service=v.service, choice=CHOICE_LABELS[v.choice])


def list_all(ctx: Context, which: str | None) -> Reply:
    s, room = ctx.session, ctx.room
    if which == "closed":
        rows = listing(s, room, open_=False)
        if not rows:
            return Reply([N_("No closed proposals in this room.")])
        return Reply([N_("**Closed proposals:**"), Bullets(tuple(
            N_("{id} — {subject} — {state}, {when}", id=p.short_id, subject=subject(p),
               state=STATE_LABELS[p.state], when=When(p.closed_at.astimezone(ctx.tz), "date"))
            for p in rows))])
    rows = listing(s, room, open_=True)
    if not rows:
        return Reply([N_("No open proposals. Make one with {prefix}propose <proposal>.",
                         prefix=ctx.prefix)])
    lines = []
    for p in rows:
        t = current_tally(s, p, room, ctx.now)
        lines.append(N_("{id} — {subject} — until {when}, {voted}/{total} services voted",
                        id=p.short_id, subject=subject(p),
                        when=When(p.deadline.astimezone(ctx.tz)), voted=len(t.counted),
                        total=len(t.counted) + len(t.missing)))
    return Reply([N_("**Open proposals:**"), Bullets(tuple(lines))])


# ---- withdrawal ----------------------------------------------------------------------------

def withdraw(ctx: Context, proposal: int) -> Reply:
    s, room = ctx.session, ctx.room
    p = _find(ctx, proposal)
    PROPOSER_OR_CHAIR.require(ctx.actor, p)
    at = cast_at(ctx.sent_at, ctx.now)  # like a vote: as of when it was asked
    settle(s, p, room, at, ctx.out)
    if p.state != State.OPEN:
        return closed_reply(p)
    p.state, p.withdrawn_at, p.closed_at = State.WITHDRAWN.value, at, at
    p.outcome_posted = True
    end_poll(s, p, room, ctx.out)
    audit(s, room, "withdrawn", ctx.now, proposal=p, user=ctx.sender,
          service=rooms.service_of(s, room, ctx.sender))
    return Reply([N_("{id} is withdrawn: {subject}", id=p.short_id, subject=subject(p))])

