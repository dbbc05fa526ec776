"""Typed converters: text in, value out, or a UserError naming the argument and its form."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, time, timedelta

from bot.commands.framework import Context, Converter, UserError
from bot.core.durations import DurationError, format_duration, parse_duration
from bot.i18n import Msg
from bot.i18n import _ as N_

_USER = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d{1,5})?$")


class Text(Converter):
    label = N_("text")

    def __init__(self, label: Msg | None = None, max_length: int = 300):
        if label is not None:
            self.label = label
        self.max_length = max_length

    def convert(self, text: str, ctx: Context) -> str:
        cleaned = clean_text(text)
        if not cleaned:
            raise UserError(N_("<{name}> cannot be empty.", name=self.label))
        if len(cleaned) > self.max_length:
            raise UserError(N_("<{name}> is too long: at most {max} characters.",
                               name=self.label, max=self.max_length))
        return cleaned


def clean_text(text: str) -> str:
    """Normalise Unicode (NFC), drop control and format characters, collapse white space."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    return " ".join(text.split())


class Date(Converter):
    label = N_("date")

    def convert(self, text: str, ctx: Context) -> date:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
        raise UserError(N_("{value} is not a date: write YYYY-MM-DD, e.g. 2026-12-03.",
                           value=text))


class Time(Converter):
    label = N_("time")

    def convert(self, text: str, ctx: Context) -> time:
        m = re.fullmatch(r"(\d{1,2})[:hH](\d{2})", text)
        if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
            return time(int(m.group(1)), int(m.group(2)))
        raise UserError(N_("{value} is not a time: write HH:MM (24 h), e.g. 14:30.",
                           value=text))


class Duration(Converter):
    label = N_("duration")

    def __init__(self, minimum: timedelta = timedelta(minutes=1),
                 maximum: timedelta = timedelta(days=366)):
        self.minimum, self.maximum = minimum, maximum

    def convert(self, text: str, ctx: Context) -> timedelta:
        try:
            value = parse_duration(text)
        except DurationError:
            raise UserError(N_("{value} is not a duration: write e.g. 90m, 2h, 5d or 1w.",
                               value=text)) from None
        if not self.minimum <= value <= self.maximum:
            raise UserError(N_("{value} is out of range: from {min} to {max}.", value=text,
                               min=_fmt(self.minimum), max=_fmt(self.maximum)))
        return value


def _fmt(td: timedelta) -> str:
    return format_duration(int(td.total_seconds()))


class UserId(Converter):
    label = N_("user")

    def convert(self, text: str, ctx: Context) -> str:
        value = text.strip()
        if not _USER.match(value):
            raise UserError(N_("{value} is not a Matrix user id: write @name:server.",
                               value=text))
        return value


class UserIds(Converter):
    """One or more Matrix user ids, separated by spaces (duplicates counted once)."""

    label = N_("user")

    def convert(self, text: str, ctx: Context) -> tuple[str, ...]:
        one = UserId()
        return tuple(dict.fromkeys(one.convert(word, ctx) for word in text.split()))


class Choice(Converter):
    def __init__(self, *choices: str):
        self.choices = choices

    def usage(self, lang: str) -> str:
        return "|".join(self.choices)

    def convert(self, text: str, ctx: Context) -> str:
        value = text.lower()
        if value not in self.choices:
            raise UserError(N_("{value} is not one of: {choices}.", value=text,
                               choices=", ".join(self.choices)))
        return value


class Integer(Converter):
    label = N_("number")

    def __init__(self, minimum: int = 1, maximum: int = 10_000):
        self.minimum, self.maximum = minimum, maximum

    def convert(self, text: str, ctx: Context) -> int:
        if re.fullmatch(r"\d{1,6}", text) and self.minimum <= int(text) <= self.maximum:
            return int(text)
        raise UserError(N_("{value} is not a whole number from {min} to {max}.", value=text,
                           min=self.minimum, max=self.maximum))


class ShortId(Converter):
    """`M12` -> 12 for the letter given; case-insensitive."""

    LABELS = {"M": N_("meeting"), "A": N_("item"), "P": N_("proposal"), "T": N_("action")}

    def __init__(self, letter: str):
        self.letter = letter
        self.label = self.LABELS[letter]

    def convert(self, text: str, ctx: Context) -> int:
        m = re.fullmatch(rf"[{self.letter}{self.letter.lower()}](\d{{1,9}})", text.strip())
        if not m:
            raise UserError(N_("{value} is not an id like {example}.", value=text,
                               example=f"{self.letter}7"))
        return int(m.group(1))
