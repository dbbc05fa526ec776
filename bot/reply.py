"""What the bot says: a structured reply, rendered to plain text and HTML per language.

Handlers return a `Reply`; the transport turns it into an `m.notice` (or sends its file or
poll). Nothing here talks to Matrix.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from bot.i18n import languages_of, neutralise_pings, render


@dataclass(frozen=True)
class Mention:
    """A user pill: plain `@user:server`, HTML link that Matrix clients show as a pill."""

    user_id: str

    def __render__(self, lang: str, as_html: bool) -> str:
        if as_html:
            uid = html.escape(self.user_id, quote=True)
            return f'<a href="https://matrix.to/#/{uid}">{html.escape(self.user_id)}</a>'
        return self.user_id


@dataclass(frozen=True)
class Bullets:
    items: tuple[Any, ...]
    numbered: bool = False


@dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str
    data: bytes


@dataclass
class Reply:
    blocks: list[Any] = field(default_factory=list)
    mentions: tuple[str, ...] = ()
    attachment: Attachment | None = None

    def add(self, *blocks: Any) -> Reply:
        self.blocks.extend(blocks)
        return self


def _render_value(value: Any, lang: str, as_html: bool) -> str:
    return render(value, lang, as_html=as_html)


def _render_block(block: Any, lang: str, as_html: bool) -> str:
    if isinstance(block, Bullets):
        items = [_render_value(i, lang, as_html) for i in block.items]
        if as_html:
            tag = "ol" if block.numbered else "ul"
            return f"<{tag}>" + "".join(f"<li>{i}</li>" for i in items) + f"</{tag}>"
        return "\n".join(
            (f"{n}. " if block.numbered else "• ") + i for n, i in enumerate(items, 1))
    text = _render_value(block, lang, as_html)
    return f"<p>{text}</p>" if as_html else text


def render_reply(reply: Reply, language_setting: str) -> tuple[str, str]:
    """(plain body, HTML body) in the room's language, or both languages for `fr+nl`."""
    plains, htmls = [], []
    for lang in languages_of(language_setting):
        plains.append("\n".join(_render_block(b, lang, False) for b in reply.blocks))
        htmls.append("".join(_render_block(b, lang, True) for b in reply.blocks))
    plain = "\n\n———\n\n".join(plains)
    rich = "<hr/>".join(htmls)
    return neutralise_pings(plain), neutralise_pings(rich)


def notice_content(reply: Reply, language: str, *, reply_to: str | None = None,
                   mentions: tuple[str, ...] = ()) -> dict:
    """An `m.notice` with HTML and plain bodies, as a reply when `reply_to` is given."""
    body, html = render_reply(reply, language)
    content = {"msgtype": "m.notice", "body": body, "format": "org.matrix.custom.html",
               "formatted_body": html,
               "m.mentions": {"user_ids": sorted(set(mentions) | set(reply.mentions))}}
    if reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return content
