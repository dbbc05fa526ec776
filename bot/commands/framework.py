"""Commands are declared once; the parser, the permission check and `!help` derive from that.

A handler is a plain function `handler(ctx, **arguments) -> Reply`. It never talks to Matrix:
it reads and writes through `ctx.session` and returns what to say; what else it has to say
(an outcome, a poll) it adds to `ctx.out`.
"""

from __future__ import annotations

import html
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.commands.checks import Actor
from bot.commands.errors import CheckFailure, UserError
from bot.config import Config
from bot.core.roles import Role
from bot.i18n import Msg, translate
from bot.i18n import _ as N_
from bot.outgoing import Outgoing
from bot.storage.db import Session
from bot.storage.models import Room
from bot.storage.rooms import forget_services

ROLE_LABELS = {
    Role.OBSERVER: N_("observer"),
    Role.MEMBER: N_("member"),
    Role.COORDINATOR: N_("coordinator"),
    Role.CHAIR: N_("chair"),
}
ROLE_NAMES = {"chair": Role.CHAIR, "coordinator": Role.COORDINATOR, "member": Role.MEMBER,
              "observer": Role.OBSERVER}


class Converter:
    """Turns one argument's text into a value, or raises UserError naming the argument."""

    label: Msg = N_("text")

    def convert(self, text: str, ctx: Context) -> Any:
        return text

    def usage(self, lang: str) -> str:
        return translate(self.label, lang)


@dataclass(frozen=True)
class Param:
    name: str
    conv: Converter
    required: bool = True
    rest: bool = False  # takes every remaining word


@dataclass(frozen=True)
class Flag:
    name: str
    conv: Converter
    default: Any = None


@dataclass
class Command:
    words: tuple[str, ...]
    handler: Callable[..., Any]
    summary: Msg
    params: tuple[Param, ...] = ()
    flags: tuple[Flag, ...] = ()
    role: Role | None = Role.MEMBER  # None: anyone, also in rooms not set up
    room_admin: bool = False  # power level 100 or a configured bot admin
    kinds: frozenset[str] | None = None
    needs_setup: bool = True

    @property
    def name(self) -> str:
        return " ".join(self.words)

    def usage(self, prefix: str) -> Usage:
        return Usage(self, prefix)

    def allowed(self, ctx: Context) -> bool:
        """May this user run this command in this room (used by !help to list)?"""
        try:
            check_permission(self, ctx)
        except CheckFailure:
            return False
        return True


@dataclass(frozen=True)
class Usage:
    """A usage line, rendered with argument names in the reader's language."""

    command: Command
    prefix: str

    def __render__(self, lang: str, as_html: bool) -> str:
        parts = [self.prefix + self.command.name]
        for p in self.command.params:
            label = p.conv.usage(lang) + ("…" if p.rest else "")
            parts.append(f"<{label}>" if p.required else f"[<{label}>]")
        for f in self.command.flags:
            parts.append(f"[--{f.name} <{f.conv.usage(lang)}>]")
        text = " ".join(parts)
        return f"<code>{html.escape(text)}</code>" if as_html else text


@dataclass
class Context:
    config: Config
    session: Session
    room_id: str
    room: Room | None
    sender: str
    role: Role
    power: int
    is_bot_admin: bool
    members: frozenset[str]
    now: datetime
    event_id: str
    prefix: str
    registry: Registry
    # when the command was sent, as the homeserver stamped it (a vote counts from then)
    sent_at: datetime | None = None
    # what the command says besides its reply (e.g. a poll, an outcome), sent after it; an
    # urgent one (an outcome) takes the reply along ahead of the room's waiting messages
    out: list[Outgoing] = field(default_factory=list)

    @property
    def actor(self) -> Actor:
        return Actor(self.session, self.room, self.sender, self.role, self.prefix)

    def discard(self) -> None:
        """The command failed: nothing it had to say is sent, nothing it read is kept."""
        self.out.clear()
        forget_services(self.session)

    @property
    def language(self) -> str:
        return self.room.language if self.room else self.config.bot.language

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.room.timezone if self.room else self.config.bot.timezone)


class Registry:
    def __init__(self) -> None:
        self.commands: list[Command] = []

    def command(self, words: str, *, summary: Msg, params: Sequence[Param] = (),
                flags: Sequence[Flag] = (), role: Role | None = Role.MEMBER,
                room_admin: bool = False, kinds: Sequence[str] | None = None,
                needs_setup: bool = True) -> Callable:
        def register(fn: Callable) -> Callable:
            self.commands.append(Command(
                words=tuple(words.split()), handler=fn, summary=summary, params=tuple(params),
                flags=tuple(flags), role=role, room_admin=room_admin,
                kinds=frozenset(kinds) if kinds else None, needs_setup=needs_setup))
            return fn
        return register

    def match(self, tokens: Sequence[str]) -> tuple[Command, list[str]] | None:
        """The command whose words are the longest prefix of `tokens` (case-insensitive)."""
        lowered = [t.lower() for t in tokens]
        best = None
        for cmd in self.commands:
            n = len(cmd.words)
            if tuple(lowered[:n]) == cmd.words and (best is None or n > len(best.words)):
                best = cmd
        return (best, list(tokens[len(best.words):])) if best else None

    def find(self, name: str) -> list[Command]:
        words = tuple(name.lower().split())
        return [c for c in self.commands if c.words[:len(words)] == words]


def check_permission(cmd: Command, ctx: Context) -> None:
    if cmd.needs_setup and ctx.room is None:
        raise CheckFailure(N_("This room is not set up yet: a room admin can run "
                              "{prefix}room setup <kind> <name>.", prefix=ctx.prefix))
    if cmd.room_admin:
        if not (ctx.power >= 100 or ctx.is_bot_admin):
            raise CheckFailure(N_("Only a room admin (power level 100) or a bot admin can "
                                  "do this."))
    elif cmd.role is not None and ctx.role < cmd.role:
        if ctx.role == Role.OBSERVER:
            raise CheckFailure(N_("Observers can read but not act in this room."))
        raise CheckFailure(N_("This needs the role {needed}; yours is {yours}.",
                              needed=ROLE_LABELS[cmd.role], yours=ROLE_LABELS[ctx.role]))
    if cmd.kinds is not None and ctx.room is not None and ctx.room.kind not in cmd.kinds:
        raise CheckFailure(N_("{command} is only available in rooms of kind {kinds}.",
                              command=ctx.prefix + cmd.name,
                              kinds=", ".join(sorted(cmd.kinds))))


_QUOTES = str.maketrans({"“": '"', "”": '"', "«": '"', "»": '"', "„": '"'})


def tokenize(text: str) -> list[str]:
    """Split like a shell, but only double quotes (“ ” « » „ too) group words: apostrophes
    are letters, so French text such as `l'ordre du jour` needs no escaping."""
    try:
        lexer = shlex.shlex(text.translate(_QUOTES), posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        lexer.commenters = ""
        lexer.quotes = '"'
        lexer.escape = ""
        return list(lexer)
    except ValueError:
        raise UserError(N_("A quotation mark is not closed."), show_usage=False) from None


def parse_arguments(cmd: Command, tokens: list[str], ctx: Context) -> dict[str, Any]:
    """Bind tokens to the command's params and flags, converting each."""
    flags = {f.name: f for f in cmd.flags}
    values: dict[str, Any] = {f.name.replace("-", "_"): f.default for f in cmd.flags}
    positional: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("--") and len(tok) > 2:
            name = tok[2:].lower()
            if name not in flags:
                raise UserError(N_("Unknown option --{name}.", name=name))
            if i + 1 >= len(tokens):
                raise UserError(N_("The option --{name} needs a value.", name=name))
            values[name.replace("-", "_")] = flags[name].conv.convert(tokens[i + 1], ctx)
            i += 2
            continue
        positional.append(tok)
        i += 1
    for p in cmd.params:
        if p.rest:
            text = " ".join(positional).strip()
            positional = []
            if not text:
                if p.required:
                    raise UserError(N_("Missing argument <{name}>.", name=p.conv.label))
                values[p.name] = None
            else:
                values[p.name] = p.conv.convert(text, ctx)
            continue
        if not positional:
            if p.required:
                raise UserError(N_("Missing argument <{name}>.", name=p.conv.label))
            values[p.name] = None
            continue
        values[p.name] = p.conv.convert(positional.pop(0), ctx)
    if positional:
        raise UserError(N_("Too many arguments: {extra}.", extra=" ".join(positional)))
    return values
