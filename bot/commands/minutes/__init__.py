"""Minutes of a meeting: `!minutes`, and `coordbot minutes` for the archive. Their content is
gathered as plain values (`content`, `gather`), then made into a Word document (`document`) and
a short summary message (`summary`)."""

from bot.commands.family import Family
from bot.commands.minutes.commands import register

FAMILY = Family(name="minutes", commands=register)
