"""The README's command reference is the one the declarations make, and its first commands
are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

from bot.commands.reference import reference

ROOT = Path(__file__).resolve().parents[2]


def test_readme_command_reference_is_current():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- commands:[^>]*-->\n(.*?)<!-- /commands -->", readme, re.S)
    assert block, "README lacks the generated command reference"
    assert block.group(1) == reference(), (
        "README command reference is out of date: paste `python -m bot.commands.reference`")


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    test_command = readme.split("```sh", 1)[1].split("```", 1)[0].strip().splitlines()[-1]
    assert "pytest" in test_command
    assert test_command.split("&&")[-1].strip() in (ROOT / ".ci" / "run").read_text()
