"""The command reference, made from the declarations: `python -m bot.commands.reference`.

The README's command tables are this output, so they cannot drift from what the bot does.
"""

from __future__ import annotations

import sys

from bot.commands import registry_with_all
from bot.commands.framework import Command
from bot.core.roles import Role
from bot.i18n import render

WHO = {None: "anyone", Role.OBSERVER: "observer", Role.MEMBER: "member",
       Role.COORDINATOR: "coordinator", Role.CHAIR: "chair"}
SECTIONS = [("Rooms, roles, services", ("help", "room", "role", "service", "services")),
            ("Meetings", ("meeting", "rsvp")),
            ("Agenda and actions", ("agenda", "action", "actions")),
            ("Consensus proposals", ("propose", "jib", "vote", "proposal", "proposals"))]


def who(cmd: Command) -> str:
    if cmd.room_admin:
        return "room admin (power 100) or bot admin"
    text = WHO[cmd.role]
    if cmd.kinds:
        text += " (" + ", ".join(sorted(cmd.kinds)) + " rooms)"
    return text


def reference(lang: str = "en") -> str:
    commands = registry_with_all().commands
    out = []
    for title, heads in SECTIONS:
        rows = [c for c in commands if c.words[0] in heads]
        if not rows:
            continue
        out += [f"### {title}", "| command | who | what |", "| --- | --- | --- |"]
        for c in rows:
            usage = render(c.usage("!"), lang, as_html=False).replace("|", "\\|")
            summary = render(c.summary, lang, as_html=False).replace("|", "\\|")
            out.append(f"| `{usage}` | {who(c)} | {summary} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(reference(sys.argv[1] if len(sys.argv) > 1 else "en"))
