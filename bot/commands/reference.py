"""The command reference, made from the declarations: `python -m bot.commands.reference`.

The README's command tables (English, French, Dutch) are this output, so they cannot drift
from what the bot does: `python -m bot.commands.reference fr`.
"""

from __future__ import annotations

import sys

from bot.commands import families
from bot.commands.framework import Command
from bot.core.roles import Role
from bot.i18n import render

# Documentation words, per language (the bot's own messages go through the catalogs).
WORDS = {
    "en": {None: "anyone", Role.OBSERVER: "observer", Role.MEMBER: "member",
           Role.COORDINATOR: "coordinator", Role.CHAIR: "chair",
           "admin": "room admin (power 100) or bot admin", "rooms": "{kinds} rooms",
           "head": "| command | who | what |"},
    "fr": {None: "tout le monde", Role.OBSERVER: "observateur", Role.MEMBER: "membre",
           Role.COORDINATOR: "coordinateur", Role.CHAIR: "président",
           "admin": "administrateur du salon (niveau 100) ou du bot", "rooms": "salons {kinds}",
           "head": "| commande | qui | quoi |"},
    "nl": {None: "iedereen", Role.OBSERVER: "waarnemer", Role.MEMBER: "lid",
           Role.COORDINATOR: "coördinator", Role.CHAIR: "voorzitter",
           "admin": "beheerder van de kamer (niveau 100) of van de bot", "rooms": "kamers {kinds}",
           "head": "| opdracht | wie | wat |"},
}
SECTIONS = [
    ({"en": "Rooms, roles, services", "fr": "Salons, rôles, services",
      "nl": "Kamers, rollen, diensten"}, ("help", "room", "role", "service", "services")),
    ({"en": "Meetings", "fr": "Réunions", "nl": "Vergaderingen"},
     ("meeting", "rsvp", "minutes")),
    ({"en": "Agenda and actions", "fr": "Ordre du jour et actions", "nl": "Agenda en acties"},
     ("agenda", "action", "actions")),
    ({"en": "Consensus proposals", "fr": "Propositions par consensus",
      "nl": "Voorstellen bij consensus"}, ("propose", "jib", "vote", "proposal", "proposals")),
]


def who(cmd: Command, lang: str = "en") -> str:
    words = WORDS[lang]
    if cmd.room_admin:
        return words["admin"]
    text = words[cmd.role]
    if cmd.kinds:
        text += " (" + words["rooms"].format(kinds=", ".join(sorted(cmd.kinds))) + ")"
    return text


def reference(lang: str = "en") -> str:
    commands = families.registry().commands
    out = []
    for titles, heads in SECTIONS:
        rows = [c for c in commands if c.words[0] in heads]
        if not rows:
            continue
        out += [f"### {titles[lang]}", WORDS[lang]["head"], "| --- | --- | --- |"]
        for c in rows:
            usage = render(c.usage("!"), lang, as_html=False).replace("|", "\\|")
            summary = render(c.summary, lang, as_html=False).replace("|", "\\|")
            out.append(f"| `{usage}` | {who(c, lang)} | {summary} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(reference(sys.argv[1] if len(sys.argv) > 1 else "en"))
