"""Translatable messages, rendered late in the room's language(s).

Handlers build `Msg` objects (English msgids, `{name}` placeholders); nothing is translated until
the reply is rendered, so one reply can come out in French and Dutch at once for `fr+nl` rooms.
Catalogs are gettext `.po` files beside this module, compiled in memory on first use.

Templates may use `**bold**`. Parameters are user data unless they are `Msg`/`Plural`: they are
escaped for HTML *after* the template's own markup is applied, so user text can never inject
markup, and `@room` is neutralised everywhere.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime, format_time
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

HERE = Path(__file__).parent
LANGS = ("fr", "nl", "en")
LOCALES = {"fr": "fr_BE", "nl": "nl_BE", "en": "en_GB"}
# The plural rules the catalogs are written for (the gettext convention), whatever the
# installed Babel's CLDR data says: CLDR 47 gives French a third form for millions.
PLURAL_FORMS = {"fr": "nplurals=2; plural=(n > 1);", "nl": "nplurals=2; plural=(n != 1);"}
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ROOM_PING = re.compile(r"@room\b", re.IGNORECASE)


class Msg:
    """A translatable message: `Msg("Meeting {id} created.", id="M3")`."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, **params: Any):
        self.msgid = msgid
        self.params = params

    def __repr__(self) -> str:
        return f"Msg({self.msgid!r}, {self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Msg) and (self.msgid, self.params) == (other.msgid, other.params)

    def __hash__(self) -> int:
        return hash(self.msgid)


class Plural(Msg):
    """A message whose wording depends on a count `n`."""

    __slots__ = ("plural",)

    def __init__(self, singular: str, plural: str, n: int, **params: Any):
        super().__init__(singular, n=n, **params)
        self.plural = plural


_ = Msg  # marker for extraction


@dataclass(frozen=True)
class When:
    """A date/time parameter, formatted in the reader's locale and the room's zone."""

    value: datetime | date | time
    style: str = "datetime"  # datetime | date | time | weekday-datetime | weekday-date


@cache
def _translations(lang: str) -> Translations | None:
    path = HERE / f"{lang}.po"
    if lang == "en" or not path.exists():
        return None
    with path.open("rb") as fh:
        catalog = with_plural_forms(read_po(fh, locale=lang), lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def with_plural_forms(catalog: Catalog, lang: str) -> Catalog:
    """The catalog with the project's plural rule for `lang` (see PLURAL_FORMS)."""
    if lang in PLURAL_FORMS:
        catalog.mime_headers = [("Plural-Forms", PLURAL_FORMS[lang])]
    return catalog


def translate(msg: Msg, lang: str) -> str:
    """The bare template in one language, placeholders not yet filled."""
    tr = _translations(lang)
    if isinstance(msg, Plural):
        n = msg.params["n"]
        if tr is None:
            return msg.msgid if n == 1 else msg.plural
        return tr.ngettext(msg.msgid, msg.plural, n)
    return msg.msgid if tr is None else tr.gettext(msg.msgid)


def format_when(w: When, lang: str) -> str:
    loc = LOCALES[lang]
    v = w.value
    if w.style == "time" or isinstance(v, time):
        return format_time(v, "HH:mm", locale=loc)
    if w.style in ("weekday-date", "date") or not isinstance(v, datetime):
        pattern = "EEEE d MMMM y" if w.style == "weekday-date" else "EEE d MMM y"
        return format_date(v, _first_of_month(pattern, lang, v.day), locale=loc)
    pattern = "EEEE d MMMM y, HH:mm" if w.style == "weekday-datetime" else "EEE d MMM y, HH:mm"
    return format_datetime(v, _first_of_month(pattern, lang, v.day), tzinfo=v.tzinfo,
                           locale=loc)


def _first_of_month(pattern: str, lang: str, day: int) -> str:
    """French writes the first day of a month as an ordinal: « mardi 1er décembre »."""
    return pattern.replace("d ", "'1er' ", 1) if lang == "fr" and day == 1 else pattern


def render(value: Any, lang: str, *, as_html: bool) -> str:
    """Render a Msg (or a plain value) in one language, as plain text or as HTML."""
    if isinstance(value, Msg):
        params = {k: render(v, lang, as_html=as_html) for k, v in value.params.items()}
        try:
            return _markup(translate(value, lang), as_html).format(**params)
        except (KeyError, IndexError, ValueError):
            # A broken translation must not hide the message: fall back to English.
            return _markup(translate(value, "en"), as_html).format(**params)
    if hasattr(value, "__render__"):
        return value.__render__(lang, as_html)
    if isinstance(value, When):
        text = format_when(value, lang)
    elif value is None:
        text = ""
    else:
        text = str(value)
    return html.escape(text, quote=False) if as_html else text


def _markup(template: str, as_html: bool) -> str:
    """The template's own `**bold**`, as HTML (the template escaped first) or dropped."""
    if as_html:
        return _BOLD.sub(r"<strong>\1</strong>", html.escape(template, quote=False))
    return _BOLD.sub(r"\1", template)


def neutralise_pings(text: str) -> str:
    """The bot never notifies a whole room: break `@room` with a word joiner."""
    return _ROOM_PING.sub(lambda m: m.group(0)[0] + "\u2060" + m.group(0)[1:], text)


def languages_of(setting: str) -> tuple[str, ...]:
    """`fr+nl` -> ("fr", "nl"); anything else -> itself."""
    return tuple(setting.split("+"))
