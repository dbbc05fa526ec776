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


def _first_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.strip().splitlines() if line and not line.startswith("#")]


def test_ci_runs_the_readme_test_command():
    test_command = _first_commands()[-1]
    assert "pytest" in test_command
    ci = (ROOT / ".ci" / "run").read_text()
    # the same install (with the pins) and the same test run
    assert test_command.replace("pip install", "pip install -q") in ci


def test_both_first_commands_install_the_pinned_versions():
    install, test = _first_commands()
    assert "coordbot demo" in install
    for command in (install, test):
        assert "pip install -c constraints.txt " in command
    pins = (ROOT / "constraints.txt").read_text()
    for package in ("babel", "matrix-nio", "matrix-synapse", "sqlalchemy", "vodozemac"):
        assert re.search(rf"^{package}==\S+", pins, re.M), f"{package} is not pinned"
