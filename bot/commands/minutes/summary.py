"""The short message posted with the minutes document."""

from __future__ import annotations

from bot.commands.minutes.content import ItemStatus, Minutes
from bot.core.attendance import Presence
from bot.core.guards import redact
from bot.i18n import Plural, When
from bot.i18n import _ as N_
from bot.reply import Bullets, Reply


def _quote(text: str) -> str:
    return redact(text)[0]


def summary(m: Minutes) -> Reply:
    present = sum(a.presence is Presence.PRESENT for a in m.attendance)
    treated = sum(i.status is ItemStatus.TREATED for i in m.agenda)
    carried = sum(i.status is ItemStatus.CARRIED for i in m.agenda)
    lines = [
        N_("Services present: {present} of {total}", present=present,
           total=len(m.attendance)),
        Plural("Agenda: {n} item, {treated} treated, {carried} carried over",
               "Agenda: {n} items, {treated} treated, {carried} carried over",
               len(m.agenda), treated=treated, carried=carried),
        Plural("{n} decision", "{n} decisions", len(m.decisions)),
        Plural("{n} action given", "{n} actions given", len(m.actions)),
    ]
    decided = tuple(N_("{id}: {outcome}", id=d.short_id, outcome=d.outcome)
                    for d in m.decisions)
    reply = Reply([N_("**Minutes of {id} — {title}**, {when}", id=m.meeting,
                      title=_quote(m.title), when=When(m.start, "weekday-datetime")),
                   Bullets(tuple(lines))])
    if decided:
        reply.add(Bullets(decided))
    if m.from_rsvps:
        reply.add(N_("Nobody was marked present: presence is taken from the answers to "
                     "the invitation (RSVP)."))
    return reply
