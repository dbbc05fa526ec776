"""The text of a command as the user meant it.

Clients turn a mention into a pill: the plain body then holds a display name, while the HTML
body links to `https://matrix.to/#/@user:server`. Read the HTML when there is one, so that
`!role Alice coordinator` typed with a pill reaches the parser as the user id. Reply quotes
(`<mx-reply>` and `> ` fallback lines) are not part of the command.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote

_PILL = re.compile(r"^https://matrix\.to/#/(@[^/?]+)")


class _Flatten(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._link: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "mx-reply":
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "a" and not self._skip:
            m = _PILL.match(unquote(dict(attrs).get("href") or ""))
            if m:
                self._link = m.group(1)
                self.parts.append(self._link)

    def handle_endtag(self, tag):
        if tag == "mx-reply" and self._skip:
            self._skip -= 1
        elif tag == "a":
            self._link = None
        elif tag in ("p", "div", "li"):
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip and self._link is None:
            self.parts.append(data)


def command_text(content: dict) -> str:
    body = content.get("body")
    body = body if isinstance(body, str) else ""
    html = content.get("formatted_body")
    if content.get("format") == "org.matrix.custom.html" and isinstance(html, str):
        parser = _Flatten()
        try:
            parser.feed(html)
            parser.close()
            text = "".join(parser.parts).strip()
            if text:
                return text
        except Exception:  # noqa: BLE001 - malformed HTML: fall back to the plain body
            pass
    lines = body.split("\n")
    while lines and lines[0].startswith("> "):
        lines.pop(0)
    return "\n".join(lines).strip()
