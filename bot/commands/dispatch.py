"""From a message's text to a reply: prefix, tokens, command, permission, arguments, handler.

Runs inside one database transaction (see bot.app). The handler's own changes live in a
savepoint: a user mistake or a failure rolls them back, and only the reply is kept.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bot.commands import families
from bot.commands.framework import (
    CheckFailure,
    Context,
    Registry,
    Role,
    UserError,
    check_permission,
    parse_arguments,
    tokenize,
)
from bot.config import Config
from bot.core.roles import role_from_power
from bot.i18n import _ as N_
from bot.reply import Reply
from bot.storage import repo
from bot.storage.db import writes_since

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    room_id: str
    event_id: str
    sender: str
    body: str
    sent_at: datetime
    power: int
    members: frozenset[str]
    # whether the sender's device is cross-signed by its owner (None: unknown)
    device_verified: bool | None = None


@dataclass
class Outcome:
    reply: Reply
    language: str
    emitted: list[tuple[str, dict, str | None]] = field(default_factory=list)
    urgent: bool = False
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
    def __init__(self, config: Config, registry: Registry | None = None):
        self.config = config
        self.registry = registry or families.registry()
        self.rate = RateLimiter(config.bot.rate_limit_per_minute)
        self.observer = lambda command, outcome: None  # metrics: commands by outcome

    def split_prefix(self, body: str) -> tuple[str, str] | None:
        text = body.lstrip()
        for prefix in sorted(self.config.bot.command_prefixes, key=len, reverse=True):
            if text.startswith(prefix) and text[len(prefix):len(prefix) + 1].isalpha():
                return prefix, text[len(prefix):]
        return None

    def handle(self, s: Session, inc: Incoming, now: datetime) -> Outcome | None:
        """What to answer, or None when the message is deliberately ignored."""
        split = self.split_prefix(inc.body)
        if split is None:
            return None
        if inc.sender not in inc.members:  # only members of the room act in it
            log.info("ignoring %s in %s: %s is not a joined member (%d known)", inc.event_id,
                     inc.room_id, inc.sender, len(inc.members))
            return None
        prefix, rest = split
        room = repo.get_room(s, inc.room_id)
        language = room.language if room else self.config.bot.language
        verdict = self.rate.check(inc.sender)
        if verdict == "drop":
            return None
        if verdict == "warn":
            return Outcome(Reply([N_("You are sending commands too fast; wait a minute and "
                                     "try again.")]), language)
        if len(rest) > self.config.bot.max_command_length:
            return Outcome(Reply([N_("This command is too long: at most {max} characters.",
                                     max=self.config.bot.max_command_length)]), language)
        if room is not None and room.kind in self.config.bot.require_cross_signed_devices \
                and inc.device_verified is not True:
            log.info("refused a command in %s from a device of %s not cross-signed",
                     inc.room_id, inc.sender)
            return Outcome(Reply([N_(
                "Your device is not verified by its owner (cross-signing); in this room "
                "commands are accepted only from verified devices. Verify this session in "
                "your client and try again.")]), language)
        try:
            tokens = tokenize(rest)
        except UserError as err:
            return Outcome(Reply([err.message]), language) if room else None
        found = self.registry.match(tokens)
        if found is None:
            if room is None:
                return None
            return Outcome(Reply([N_("Unknown command {name}. Type {prefix}help for the list.",
                                     name=prefix + (tokens[0] if tokens else ""),
                                     prefix=prefix)]), language)
        cmd, args = found
        if cmd.needs_setup and room is None:
            return None
        explicit = repo.explicit_role(s, room, inc.sender) if room else None
        role = Role[explicit.upper()] if explicit else role_from_power(inc.power)
        ctx = Context(config=self.config, session=s, room_id=inc.room_id, room=room,
                      sender=inc.sender, role=role, power=inc.power,
                      is_bot_admin=inc.sender in self.config.bot.admins, members=inc.members,
                      now=now, event_id=inc.event_id, prefix=prefix, registry=self.registry)
        writes_since(s)
        reply = self._run(cmd, args, ctx)
        return Outcome(reply, ctx.room.language if ctx.room else language, ctx.emitted,
                       ctx.urgent, changed=writes_since(s))

    def _run(self, cmd, args: list[str], ctx: Context) -> Reply:
        s = ctx.session
        savepoint = s.begin_nested()
        try:
            check_permission(cmd, ctx)
            values = parse_arguments(cmd, args, ctx)
            reply = cmd.handler(ctx, **values)
            s.flush()
            savepoint.commit()
            self.observer(cmd.name, "ok")
            return reply
        except CheckFailure as err:
            savepoint.rollback()
            ctx.discard()
            self.observer(cmd.name, "refused")
            return Reply([err.message])
        except UserError as err:
            savepoint.rollback()
            ctx.discard()
            self.observer(cmd.name, "user_error")
            reply = Reply([err.message])
            if err.show_usage:
                reply.add(N_("Usage: {usage}", usage=cmd.usage(ctx.prefix)))
            return reply
        except Exception:
            savepoint.rollback()
            ctx.discard()
            self.observer(cmd.name, "failed")
            ref = secrets.token_hex(4).upper()
            log.exception("command %s failed in %s (error reference %s)", cmd.name,
                          ctx.room_id, ref)
            return Reply([N_("Sorry, something went wrong on my side and nothing was "
                             "changed. Error reference: {ref}.", ref=ref)])

