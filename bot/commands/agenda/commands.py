"""The commands of the agenda of each occurrence: `!agenda`,
`!agenda add|remove|move|carry|done`."""

from __future__ import annotations

from datetime import date, datetime

from bot.commands.agenda.texts import agenda_blocks, occurrence_title
from bot.commands.checks import AUTHOR_OR_COORDINATOR
from bot.commands.converters import Date, Integer, ShortId, Text, UserId
from bot.commands.framework import (
    CheckFailure,
    Context,
    Converter,
    Flag,
    Param,
    Registry,
    Role,
    UserError,
)
from bot.commands.meetings.commands import find_meeting, pick_occurrence, upcoming
from bot.commands.meetings.texts import Joined
from bot.core.agenda import Admission, Slot, admission, carry_source, deadline, reorder
from bot.core.recurrence import Occurrence, next_occurrences, to_aware
from bot.i18n import Plural, When
from bot.i18n import _ as N_
from bot.reply import Reply
from bot.storage import agenda as store
from bot.storage import meetings as meeting_store
from bot.storage import occurrences, rooms
from bot.storage.agenda import AgendaItem
from bot.storage.meetings import Meeting


class ItemOrAll(Converter):
    label = N_("item|all")

    def convert(self, text: str, ctx: Context) -> int | str:
        return "all" if text.lower() == "all" else ShortId("A").convert(text, ctx)


def register(r: Registry) -> None:
    item = Param("item", ShortId("A"))
    target = [Flag("meeting", ShortId("M")), Flag("date", Date())]
    r.command("agenda", summary=N_("the agenda of the next meeting (or the given one)"),
              flags=target)(show)
    r.command("agenda add", summary=N_("add an item to the next meeting (or the given one)"),
              params=[Param("title", Text(N_("title"), max_length=200), rest=True)],
              flags=[*target, Flag("presenter", UserId()),
                     Flag("minutes", Integer(1, 600))])(add)
    r.command("agenda remove", summary=N_("remove an item (its author or a coordinator)"),
              params=[item])(remove)
    r.command("agenda move", summary=N_("put an item at another position"),
              params=[item, Param("position", Integer(1, 500))], role=Role.COORDINATOR)(move)
    r.command("agenda carry",
              summary=N_("carry untreated items of a past meeting to the next one"),
              params=[Param("what", ItemOrAll())], role=Role.COORDINATOR)(carry)
    r.command("agenda done", summary=N_("mark an item as treated"), params=[item],
              role=Role.COORDINATOR)(done)


# ---- helpers ---------------------------------------------------------------------------

def target(ctx: Context, meeting: int | None, on: date | None) -> tuple[Meeting, Occurrence]:
    """The occurrence an agenda command is about: the given one, else the room's next."""
    if meeting is not None:
        row = find_meeting(ctx, meeting)
        return row, pick_occurrence(ctx, row, meeting_store.load_series(ctx.session, row), on)
    if on is not None:
        raise UserError(N_("Say which meeting with --meeting <id> when you give --date."))
    meeting_store.note_members(ctx.session, ctx.room, ctx.members, ctx.now)
    found = upcoming(ctx, 1)
    if not found:
        raise UserError(N_("There is no meeting to come in this room."), show_usage=False)
    return found[0]


def find_item(ctx: Context, number: int) -> AgendaItem:
    item = store.get_item(ctx.session, ctx.room, number)
    if item is None:
        raise UserError(N_("There is no agenda item A{number} in this room.", number=number),
                        show_usage=False)
    return item


def place_of(ctx: Context, item: AgendaItem) -> tuple[Meeting, datetime, bool]:
    """The meeting of an item, when its occurrence starts, and whether it is cancelled."""
    meeting = item.meeting
    series = meeting_store.load_series(ctx.session, meeting)
    start = to_aware(series.moved.get(item.original, item.original), series.tz)
    return meeting, start, meeting.cancelled or item.original in series.cancelled


def is_coordinator(ctx: Context) -> bool:
    return ctx.role >= Role.COORDINATOR


# ---- commands --------------------------------------------------------------------------

def show(ctx: Context, meeting: int | None, date: date | None) -> Reply:
    row, occ = target(ctx, meeting, date)
    return Reply([N_("Agenda of {meeting}", meeting=occurrence_title(row, occ)),
                  *agenda_blocks(ctx.session, ctx.room, row, occ, ctx.now)])


def add(ctx: Context, title: str, meeting: int | None, date: date | None,
        presenter: str | None, minutes: int | None) -> Reply:
    row, occ = target(ctx, meeting, date)
    verdict = admission(occ.start, ctx.room.agenda_deadline, ctx.now,
                        coordinator=is_coordinator(ctx))
    closed = When(deadline(occ.start, ctx.room.agenda_deadline).astimezone(occ.start.tzinfo),
                  "weekday-datetime")
    if verdict is Admission.CLOSED:
        raise CheckFailure(N_("The agenda of {id} of {when} closed {deadline}: only a "
                              "coordinator can still add items.", id=row.short_id,
                              when=When(occ.start, "weekday-datetime"), deadline=closed))
    if presenter is not None and presenter not in ctx.members:
        raise UserError(N_("{user} is not a member of this room.", user=presenter),
                        show_usage=False)
    items = store.items_of(ctx.session, row.id, occ.original)
    item = AgendaItem(room_id=ctx.room.id, number=rooms.next_number(ctx.session, ctx.room, "A"),
                      meeting_id=row.id, original=occ.original, position=len(items) + 1,
                      title=title, presenter=presenter, minutes=minutes, author=ctx.sender,
                      created_at=ctx.now, late=verdict is Admission.LATE, done=False,
                      carried=0)
    store.add_item(ctx.session, item)
    reply = Reply([N_("Item **{item}** added to the agenda of {meeting}, as number "
                      "{position}.", item=item.short_id, meeting=occurrence_title(row, occ),
                      position=item.position)])
    if item.late:
        reply.add(N_("It is marked late: the agenda closed {deadline}.", deadline=closed))
    return reply


def remove(ctx: Context, item: int) -> Reply:
    row = find_item(ctx, item)
    AUTHOR_OR_COORDINATOR.require(ctx.actor, row)
    store.remove_item(ctx.session, row)
    return Reply([N_("Item **{id}** ({title}) removed from the agenda.", id=row.short_id,
                     title=row.title)])


def move(ctx: Context, item: int, position: int) -> Reply:
    row = find_item(ctx, item)
    items = store.items_of(ctx.session, row.meeting_id, row.original)
    try:
        order = reorder([i.id for i in items], row.id, position)
    except ValueError:
        raise UserError(Plural("{position} is not a position of this agenda: it has {n} item.",
                               "{position} is not a position of this agenda: it has {n} items.",
                               len(items), position=position)) from None
    by_id = {i.id: i for i in items}
    store.renumber([by_id[i] for i in order])
    return Reply([N_("Item **{id}** is now number {position} on the agenda.",
                     id=row.short_id, position=position)])


def done(ctx: Context, item: int) -> Reply:
    row = find_item(ctx, item)
    row.done = True
    return Reply([N_("Item **{id}** ({title}) is marked as treated.", id=row.short_id,
                     title=row.title)])


def carry(ctx: Context, what: int | str) -> Reply:
    meeting_store.note_members(ctx.session, ctx.room, ctx.members, ctx.now)
    if what == "all":
        items = _items_to_carry(ctx)
    else:
        item = find_item(ctx, what)
        _, start, cancelled = place_of(ctx, item)
        if item.done:
            raise UserError(N_("Item {id} was treated; there is nothing to carry.",
                               id=item.short_id), show_usage=False)
        if not cancelled and start > ctx.now:
            raise UserError(N_("Item {id} is on a meeting to come; there is nothing to carry.",
                               id=item.short_id), show_usage=False)
        items = [item]
    meeting, occ = _carry_target(ctx, items[0])
    late = ctx.now >= deadline(occ.start, ctx.room.agenda_deadline)
    position = len(store.items_of(ctx.session, meeting.id, occ.original))
    for n, item in enumerate(items, 1):
        occurrences.record_carry(ctx.session, item, meeting.id, occ.original, ctx.now)
        item.meeting_id, item.original = meeting.id, occ.original
        item.position, item.carried, item.late = position + n, item.carried + 1, late
    return Reply([Plural("Carried {n} item to the agenda of {meeting}: {ids}.",
                         "Carried {n} items to the agenda of {meeting}: {ids}.", len(items),
                         meeting=occurrence_title(meeting, occ),
                         ids=Joined(tuple(i.short_id for i in items)))])


def _items_to_carry(ctx: Context) -> list[AgendaItem]:
    rows = store.untreated_items(ctx.session, ctx.room)
    groups: dict[tuple[int, datetime], list[AgendaItem]] = {}
    for item in rows:
        groups.setdefault((item.meeting_id, item.original), []).append(item)
    slots = []
    for key, items in groups.items():
        _, start, cancelled = place_of(ctx, items[0])
        slots.append(Slot(key, start, cancelled, len(items)))
    source = carry_source(slots, ctx.now)
    if source is None:
        raise UserError(N_("No untreated items of a past or cancelled meeting to carry."),
                        show_usage=False)
    return groups[source.key]


def _carry_target(ctx: Context, item: AgendaItem) -> tuple[Meeting, Occurrence]:
    """The next occurrence of the item's meeting, else the room's next meeting."""
    meeting = item.meeting
    if not meeting.cancelled:
        found = next_occurrences(meeting_store.load_series(ctx.session, meeting), ctx.now, 1)
        if found:
            return meeting, found[0]
    found_room = upcoming(ctx, 1)
    if not found_room:
        raise UserError(N_("There is no meeting to come to carry items to."),
                        show_usage=False)
    return found_room[0]
