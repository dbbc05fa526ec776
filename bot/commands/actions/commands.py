"""The commands of action items: `!action`, `!actions`, `!action done`."""

from __future__ import annotations

from datetime import date, datetime, time

from bot.commands.actions.texts import action_line
from bot.commands.checks import OWNER_OR_COORDINATOR
from bot.commands.converters import Choice, Date, ShortId, Text, UserId
from bot.commands.framework import Context, Flag, Param, Registry, Role, UserError
from bot.core.recurrence import to_aware
from bot.i18n import When
from bot.i18n import _ as N_
from bot.reply import Bullets, Mention, Reply
from bot.storage import actions as store
from bot.storage import rooms
from bot.storage.actions import Action

REMIND_AT = time(9, 0)  # local time on the due date


def register(r: Registry) -> None:
    r.command("action", summary=N_("give someone an action item"),
              params=[Param("owner", UserId()),
                      Param("text", Text(N_("text"), max_length=400), rest=True)],
              flags=[Flag("due", Date())], role=Role.COORDINATOR)(add)
    r.command("actions", summary=N_("open (or done) action items"),
              params=[Param("which", Choice("open", "done"), required=False)])(list_actions)
    r.command("action done", summary=N_("mark an action item as done (its owner or a "
                                        "coordinator)"),
              params=[Param("action", ShortId("T"))])(mark_done)


def add(ctx: Context, owner: str, text: str, due: date | None) -> Reply:
    if owner not in ctx.members:
        raise UserError(N_("{user} is not a member of this room.", user=owner),
                        show_usage=False)
    today = ctx.now.astimezone(ctx.tz).date()
    if due is not None and due < today:
        raise UserError(N_("{day} is in the past: pick a due date from today on.",
                           day=When(due, "date")))
    remind_at = None
    if due is not None:
        remind_at = to_aware(datetime.combine(due, REMIND_AT), ctx.room.timezone)
        if remind_at <= ctx.now:
            remind_at = None  # due today and this message already tells the owner
    action = Action(room_id=ctx.room.id, number=rooms.next_number(ctx.session, ctx.room, "T"),
                    owner=owner, text=text, due=due, remind_at=remind_at, created_by=ctx.sender,
                    created_at=ctx.now, done=False)
    store.add_action(ctx.session, action)
    reply = Reply([N_("Action **{id}** for {owner}: {text}", id=action.short_id,
                      owner=Mention(owner), text=text)], mentions=(owner,))
    if due is not None:
        reply.add(N_("Due {day}.", day=When(due, "date")))
    return reply


def list_actions(ctx: Context, which: str | None) -> Reply:
    finished = which == "done"
    actions = store.actions_of(ctx.session, ctx.room, done=finished)
    if not actions:
        return Reply([N_("No action items done yet.") if finished else
                      N_("No open action items.")])
    today = ctx.now.astimezone(ctx.tz).date()
    title = N_("**Action items done:**") if finished else N_("**Open action items:**")
    return Reply([title, Bullets(tuple(action_line(a, today) for a in actions))])


def mark_done(ctx: Context, action: int) -> Reply:
    row = store.get_action(ctx.session, ctx.room, action)
    if row is None:
        raise UserError(N_("There is no action T{number} in this room.", number=action),
                        show_usage=False)
    OWNER_OR_COORDINATOR.require(ctx.actor, row)
    if row.done:
        raise UserError(N_("Action {id} is already done.", id=row.short_id), show_usage=False)
    row.done, row.done_by, row.done_at = True, ctx.sender, ctx.now
    return Reply([N_("Action **{id}** is done: {text}", id=row.short_id, text=row.text)])
