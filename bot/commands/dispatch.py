"""From a command's text to what the bot says: tokens, command, permission, arguments,
handler, and the reply with whatever else the handler had to say.

Runs inside one database transaction (see bot.intake). The handler's own changes live in a
savepoint: a user mistake or a failure rolls them back, and only the reply is kept.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.commands import families
from bot.commands.checks import role_in
from bot.commands.framework import (
    CheckFailure,
    Context,
    Registry,
    UserError,
    check_permission,
    parse_arguments,
    tokenize,
)
from bot.config import Config
from bot.i18n import _ as N_
from bot.outgoing import Outgoing, file, notice
from bot.reply import Reply
from bot.storage import rooms
from bot.storage.db import Session, savepoint, writes_since

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    """A command: a message that starts with one of the prefixes (see split_prefix)."""

    room_id: str
    event_id: str
    sender: str
    prefix: str
    text: str  # what follows the prefix
    sent_at: datetime
    power: int
    members: frozenset[str]
    # the sender's device, and whether its owner cross-signed it (None: unknown)
    device_id: str | None = None
    device_verified: bool | None = None

    @property
    def device(self) -> tuple[str, str] | None:
        """The device the answer is for, when its owner did not cross-sign it: in a room
        that lets only cross-signed devices read, it may read that one answer."""
        if self.device_id and self.device_verified is not True:
            return self.sender, self.device_id
        return None


@dataclass
class _Answer:
    reply: Reply
    language: str
    said: list[Outgoing] = field(default_factory=list)  # by the handler, besides the reply
    changed: bool = False


@dataclass
class Outcome:
    reply: Reply
    language: str
    messages: list[Outgoing]  # the reply first, then what the command had to say besides
    changed: bool = False  # the command wrote something (it may have made work due)


class RateLimiter:
    """At most `per_minute` commands a user per minute; the first refusal is answered."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._warned: set[str] = set()

    def check(self, user: str, now: float | None = None) -> str:
        """"ok", "warn" (refuse and say so) or "drop" (refuse silently)."""
        if self.per_minute <= 0:
            return "ok"
        now = time.monotonic() if now is None else now
        q = self._seen[user]
        while q and q[0] <= now - 60:
            q.popleft()
        if len(q) < self.per_minute:
            q.append(now)
            self._warned.discard(user)
            return "ok"
        if user in self._warned:
            return "drop"
        self._warned.add(user)
        return "warn"


class Dispatcher:
    def __init__(self, config: Config, registry: Registry | None = None, *,
                 observer: Callable[[str, str], None] = lambda command, outcome: None):
        self.config = config
        self.registry = registry or families.registry()
        self.rate = RateLimiter(config.bot.rate_limit_per_minute)
        self.observer = observer  # metrics: commands by outcome

    def split_prefix(self, body: str) -> tuple[str, str] | None:
        text = body.lstrip()
        for prefix in sorted(self.config.bot.command_prefixes, key=len, reverse=True):
            if text.startswith(prefix) and text[len(prefix):len(prefix) + 1].isalpha():
                return prefix, text[len(prefix):]
        return None

    def handle(self, s: Session, inc: Incoming, now: datetime) -> Outcome | None:
        """What to answer, or None when the command is deliberately ignored."""
        answer = self._answer(s, inc, now)
        if answer is None:
            return None
        reply = answer.reply
        urgent = any(m.urgent for m in answer.said)
        messages = [notice(inc.room_id, reply, answer.language, key=f"reply:{inc.event_id}",
                           reply_to=inc.event_id, urgent=urgent, device=inc.device)]
        messages += [replace(m, urgent=urgent) for m in answer.said]
        if reply.attachment is not None:
            messages.append(file(inc.room_id, reply.attachment, key=f"file:{inc.event_id}",
                                 reply_to=inc.event_id))
        return Outcome(reply, answer.language, messages, answer.changed)

    def _answer(self, s: Session, inc: Incoming, now: datetime) -> _Answer | None:
        if inc.sender not in inc.members:  # only members of the room act in it
            log.info("ignoring %s in %s: %s is not a joined member (%d known)", inc.event_id,
                     inc.room_id, inc.sender, len(inc.members))
            return None
        prefix, rest = inc.prefix, inc.text
        room = rooms.get_room(s, inc.room_id)
        language = room.language if room else self.config.bot.language
        verdict = self.rate.check(inc.sender)
        if verdict == "drop":
            return None
        if verdict == "warn":
            return _Answer(Reply([N_("You are sending commands too fast; wait a minute "
                                     "and try again.")]), language)
        if len(rest) > self.config.bot.max_command_length:
            return _Answer(Reply([N_("This command is too long: at most {max} characters.",
                                     max=self.config.bot.max_command_length)]), language)
        if room is not None and room.kind in self.config.bot.require_cross_signed_devices \
                and inc.device_verified is not True:
            log.info("refused a command in %s from a device of %s not cross-signed",
                     inc.room_id, inc.sender)
            return _Answer(Reply([N_(
                "Your device is not verified by its owner (cross-signing); in this room "
                "commands are accepted only from verified devices. Verify this session in "
                "your client and try again.")]), language)
        try:
            tokens = tokenize(rest)
        except UserError as err:
            return _Answer(Reply([err.message]), language) if room else None
        found = self.registry.match(tokens)
        if found is None:
            if room is None:
                return None
            return _Answer(Reply([N_(
                "Unknown command {name}. Type {prefix}help for the list.",
                name=prefix + (tokens[0] if tokens else ""), prefix=prefix)]), language)
        cmd, args = found
        if cmd.needs_setup and room is None:
            return None
        role = role_in(s, room, inc.sender, inc.power)
        ctx = Context(config=self.config, session=s, room_id=inc.room_id, room=room,
                      sender=inc.sender, role=role, power=inc.power,
                      is_bot_admin=inc.sender in self.config.bot.admins, members=inc.members,
                      now=now, event_id=inc.event_id, prefix=prefix, registry=self.registry,
                      sent_at=inc.sent_at)
        writes_since(s)
        reply = self._run(cmd, args, ctx)
        return _Answer(reply, ctx.room.language if ctx.room else language, ctx.out,
                       writes_since(s))

    def _run(self, cmd, args: list[str], ctx: Context) -> Reply:
        try:
            with savepoint(ctx.session):  # a failed command's changes are undone alone
                check_permission(cmd, ctx)
                values = parse_arguments(cmd, args, ctx)
                reply = cmd.handler(ctx, **values)
        except CheckFailure as err:
            ctx.discard()
            self.observer(cmd.name, "refused")
            return Reply([err.message])
        except UserError as err:
            ctx.discard()
            self.observer(cmd.name, "user_error")
            reply = Reply([err.message])
            if err.show_usage:
                reply.add(N_("Usage: {usage}", usage=cmd.usage(ctx.prefix)))
            return reply
        except Exception:
            ctx.discard()
            self.observer(cmd.name, "failed")
            ref = secrets.token_hex(4).upper()
            log.exception("command %s failed in %s (error reference %s)", cmd.name,
                          ctx.room_id, ref)
            return Reply([N_("Sorry, something went wrong on my side and nothing was "
                             "changed. Error reference: {ref}.", ref=ref)])
        self.observer(cmd.name, "ok")
        return reply

