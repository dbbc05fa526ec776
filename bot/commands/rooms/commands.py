"""The commands of rooms, roles and services: `!help`, `!room …`, `!role`, `!service`,
`!services`."""

from __future__ import annotations

from bot.commands.converters import Choice, Duration, Text, UserId
from bot.commands.framework import (
    ROLE_LABELS,
    ROLE_NAMES,
    CheckFailure,
    Context,
    Converter,
    Param,
    Registry,
    Role,
    UserError,
)
from bot.config import LANGUAGES, ROOM_KINDS
from bot.core.durations import DurationError, format_duration, parse_duration
from bot.core.recurrence import RecurrenceError, check_zone
from bot.i18n import _ as N_
from bot.reply import Bullets, Mention, Reply
from bot.storage import rooms
from bot.storage.models import Room

DEFAULT_REMINDERS = "1d,1h"
DEFAULT_AGENDA_DEADLINE = 2 * 86400
KIND_LABELS = {
    "csil-r": N_("local integral security cell (CSIL-R)"),
    "tfl": N_("local taskforce"),
    "tfn": N_("national taskforce"),
    "workgroup": N_("working group"),
    "platform": N_("regional platform"),
}


class Offsets(Converter):
    label = N_("offsets")

    def convert(self, text: str, ctx: Context) -> str:
        parts = [p for p in text.replace(" ", "").split(",") if p]
        try:
            seconds = sorted({int(parse_duration(p).total_seconds()) for p in parts},
                             reverse=True)
        except DurationError:
            seconds = []
        if not seconds or len(parts) > 8 or any(s > 8 * 604800 for s in seconds):
            raise UserError(N_("{value} is not a list of offsets: write e.g. 7d,1d,1h "
                               "(from 1m up to 8w, at most 8).", value=text))
        return ",".join(format_duration(s) for s in seconds)


class TimeZone(Converter):
    label = N_("time zone")

    def convert(self, text: str, ctx: Context) -> str:
        try:
            check_zone(text)
        except RecurrenceError:
            raise UserError(N_("{value} is not an IANA time zone such as Europe/Brussels.",
                               value=text)) from None
        return text


def register(r: Registry) -> None:
    r.command("help", summary=N_("the commands you may run here, or one command's usage"),
              params=[Param("command", Text(N_("command")), required=False, rest=True)],
              role=None, needs_setup=False)(help_command)
    r.command("room setup", summary=N_("bind this room to a body"),
              params=[Param("kind", Choice(*ROOM_KINDS)),
                      Param("name", Text(N_("name"), max_length=120), rest=True)],
              room_admin=True, needs_setup=False)(room_setup)
    r.command("room info", summary=N_("kind, name, language, time zone, reminders, services"),
              role=Role.MEMBER)(room_info)
    r.command("room set language", summary=N_("the bot's language in this room"),
              params=[Param("language", Choice(*LANGUAGES))], role=Role.CHAIR)(set_language)
    r.command("room set timezone", summary=N_("the room's time zone"),
              params=[Param("zone", TimeZone())], role=Role.CHAIR)(set_timezone)
    r.command("room set reminders", summary=N_("reminder offsets before each meeting"),
              params=[Param("offsets", Offsets())], role=Role.CHAIR)(set_reminders)
    r.command("room set agenda-deadline",
              summary=N_("how long before a meeting the agenda closes"),
              params=[Param("duration", Duration())], role=Role.CHAIR)(set_agenda_deadline)
    r.command("role", summary=N_("give a member an explicit role"),
              params=[Param("user", UserId()), Param("role", Choice(*ROLE_NAMES))],
              role=Role.CHAIR)(set_role)
    r.command("service", summary=N_("the service a member represents (one vote per service)"),
              params=[Param("user", UserId()),
                      Param("service", Text(N_("service"), max_length=80), rest=True)],
              role=Role.COORDINATOR)(set_service)
    r.command("services", summary=N_("services and their representatives"),
              role=Role.MEMBER)(list_services)


def help_command(ctx: Context, command: str | None) -> Reply:
    if command:
        name = command.lstrip("".join(ctx.config.bot.command_prefixes)).strip()
        matches = [c for c in ctx.registry.find(name) if c.allowed(ctx)]
        if not matches:
            raise UserError(N_("No command {name} that you may run here.", name=name),
                            show_usage=False)
        return Reply([Bullets(tuple(_help_line(c, ctx) for c in matches))])
    allowed = [c for c in ctx.registry.commands if c.allowed(ctx)]
    reply = Reply([N_("**Commands you may run here:**")])
    reply.add(Bullets(tuple(_help_line(c, ctx) for c in allowed)))
    if ctx.room is None:
        reply.add(N_("This room is not set up yet: a room admin can run "
                     "{prefix}room setup <kind> <name>.", prefix=ctx.prefix))
    return reply


def _help_line(cmd, ctx: Context):
    return N_("{usage} — {summary}", usage=cmd.usage(ctx.prefix), summary=cmd.summary)


def room_setup(ctx: Context, kind: str, name: str) -> Reply:
    cfg = ctx.config.bot
    room = ctx.room
    if room is None:
        room = Room(matrix_id=ctx.room_id, kind=kind, name=name, language=cfg.language,
                    timezone=cfg.timezone, reminders=DEFAULT_REMINDERS,
                    agenda_deadline=DEFAULT_AGENDA_DEADLINE, set_up_by=ctx.sender,
                    set_up_at=ctx.now)
    else:
        room.kind, room.name = kind, name
    ctx.room = rooms.set_up(ctx.session, room)
    return Reply([N_("This room is now set up as {kind} **{name}**.",
                     kind=KIND_LABELS[kind], name=name),
                  N_("Type {prefix}help for the commands.", prefix=ctx.prefix)])


def room_info(ctx: Context) -> Reply:
    room = ctx.room
    svc = rooms.services(ctx.session, room)
    return Reply([
        N_("**{name}** — {kind}", name=room.name, kind=KIND_LABELS[room.kind]),
        Bullets((
            N_("Language: {value}", value=room.language),
            N_("Time zone: {value}", value=room.timezone),
            N_("Reminders before each meeting: {value}", value=room.reminders),
            N_("Agenda closes {value} before a meeting",
               value=format_duration(room.agenda_deadline)),
            N_("Services: {value}", value=", ".join(svc) if svc else "—"),
        )),
    ])


def set_language(ctx: Context, language: str) -> Reply:
    ctx.room.language = language
    return Reply([N_("Language set to {value}.", value=language)])


def set_timezone(ctx: Context, zone: str) -> Reply:
    ctx.room.timezone = zone
    return Reply([N_("Time zone set to {value}.", value=zone)])


def set_reminders(ctx: Context, offsets: str) -> Reply:
    ctx.room.reminders = offsets
    return Reply([N_("Reminders will go out {value} before each meeting.", value=offsets)])


def set_agenda_deadline(ctx: Context, duration) -> Reply:
    ctx.room.agenda_deadline = int(duration.total_seconds())
    return Reply([N_("The agenda now closes {value} before each meeting.",
                     value=format_duration(ctx.room.agenda_deadline))])


def _require_member(ctx: Context, user: str) -> None:
    if user not in ctx.members:
        raise UserError(N_("{user} is not a member of this room.", user=user),
                        show_usage=False)


def set_role(ctx: Context, user: str, role: str) -> Reply:
    _require_member(ctx, user)
    if user == ctx.sender and ROLE_NAMES[role] < Role.CHAIR and not ctx.is_bot_admin:
        raise CheckFailure(N_("You cannot lower your own role; another chair can."))
    rooms.set_role(ctx.session, ctx.room, user, role)
    return Reply([N_("{user} is now {role} in this room.", user=Mention(user),
                     role=ROLE_LABELS[ROLE_NAMES[role]])], mentions=(user,))


def set_service(ctx: Context, user: str, service: str) -> Reply:
    _require_member(ctx, user)
    if service.lower() in ("-", "none", "aucun", "geen"):
        rooms.set_service(ctx.session, ctx.room, user, None)
        return Reply([N_("{user} no longer represents a service here.", user=Mention(user))])
    known = {s.lower(): s for s in rooms.services(ctx.session, ctx.room)}
    service = known.get(service.lower(), service)  # one spelling per service
    rooms.set_service(ctx.session, ctx.room, user, service)
    return Reply([N_("{user} represents **{service}** in this room.", user=Mention(user),
                     service=service)], mentions=(user,))


def list_services(ctx: Context) -> Reply:
    svc = rooms.services(ctx.session, ctx.room)
    if not svc:
        return Reply([N_("No services yet: a coordinator can add one with "
                         "{prefix}service <@user> <service>.", prefix=ctx.prefix)])
    return Reply([N_("**Services and their representatives:**"), Bullets(tuple(
        N_("{service}: {people}", service=name, people=", ".join(users))
        for name, users in svc.items()))])
