"""What users type: the command framework, and one package per command family
(`bot.commands.families` lists them)."""
