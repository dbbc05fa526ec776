"""The README's command reference is the one the declarations make, and its first commands
are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.commands.reference import reference

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("lang, marker", [("en", "commands:[^>]*"), ("fr", "commands fr"),
                                          ("nl", "commands nl")])
def test_readme_command_reference_is_current(lang, marker):
    readme = (ROOT / "README.md").read_text()
    block = re.search(rf"<!-- {marker} -->\n(.*?)<!-- /commands{' ' + lang if lang != 'en' else ''}"
                      r" -->", readme, re.S)
    assert block, f"README lacks the generated command reference ({lang})"
    assert block.group(1) == reference(lang), (
        f"README command reference is out of date: paste "
        f"`python -m bot.commands.reference {lang}`")


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    test_command = readme.split("```sh", 1)[1].split("```", 1)[0].strip().splitlines()[-1]
    assert "pytest" in test_command
    assert test_command.split("&&")[-1].strip() in (ROOT / ".ci" / "run").read_text()
