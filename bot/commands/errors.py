"""A user's mistake and a refusal, apart from the bot's own failures (which get an apology
and an error reference, see bot.commands.dispatch)."""

from __future__ import annotations

from bot.i18n import Msg


class UserError(Exception):
    """A mistake by the user: answered with what was wrong (and the usage), nothing changed."""

    def __init__(self, message: Msg, *, show_usage: bool = True):
        super().__init__(message.msgid)
        self.message = message
        self.show_usage = show_usage


class CheckFailure(UserError):
    """The user may not do this here; answered with the reason, never with usage."""

    def __init__(self, message: Msg):
        super().__init__(message, show_usage=False)
