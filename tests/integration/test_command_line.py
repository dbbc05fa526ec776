"""The operator's commands as an operator types them: `coordbot --version`, `check-config` on
the example configuration, `purge`, and `coordbot demo` from start to Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from sqlalchemy import update

from bot import __version__
from bot.config import SECTION_KEYS, ConfigError, parse_config
from bot.storage.db import Database
from bot.storage.proposals import Proposal
from harness.bot import BotProcess
from harness.client import TestClient, is_reply_to
from tests.integration.test_foundation import ask

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
COORDBOT = [sys.executable, "-m", "bot.cli"]


def coordbot(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*COORDBOT, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def test_version():
    done = coordbot("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"coordbot {__version__}"
    assert __version__ == version("coordbot")  # the installed package says the same


class Recording(dict):
    """A configuration section that notes every key the parser looks up in it."""

    def __init__(self, seen: set[str], prefix: str = "", data: dict | None = None):
        super().__init__(data or {})
        self.seen, self.prefix = seen, prefix

    def _note(self, key):
        self.seen.add(self.prefix + key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)


def keys_the_parser_reads() -> set[str]:
    seen: set[str] = set()
    raw = Recording(set(), data={name: Recording(seen, f"{name}.") for name in SECTION_KEYS})
    with contextlib.suppress(ConfigError):  # required keys are missing: only lookups matter
        parse_config(raw, base=Path("/tmp"), env={})
    return seen


def example_with_every_key(tmp_path: Path) -> Path:
    """config.example.yaml with its optional keys (written commented out) switched on."""
    text = (ROOT / "config.example.yaml").read_text()
    text = re.sub(r"^(\s+)# ?([a-z_]+: \S.*)$", r"\1\2", text, flags=re.MULTILINE)
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_the_example_configuration_holds_every_key_the_parser_knows(tmp_path):
    path = example_with_every_key(tmp_path)
    example = yaml.safe_load(path.read_text())
    documented = {f"{section}.{key}" for section, keys in example.items() for key in keys}
    known = {f"{section}.{key}" for section, keys in SECTION_KEYS.items() for key in keys}
    assert keys_the_parser_reads() == known  # the list of keys is the parser's own
    assert documented == known
    done = coordbot("check-config", "-c", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


async def test_purge_deletes_what_the_retention_settings_say(synapse, make_client, tmp_path):
    bot = BotProcess(synapse, tmp_path / "bot").start()
    await bot.ready()
    bot.configure("retention", proposals="30d")
    alice = await make_client("alice")
    room = await alice.create_encrypted_room(invite=[bot.user_id])
    await alice.wait_until_joined(room, bot.user_id)
    await ask(alice, room, bot, "!room setup workgroup Retention")
    await ask(alice, room, bot, f"!service {alice.user_id} Police")
    await ask(alice, room, bot, "!propose Old decision")
    closed, _ = await ask(alice, room, bot, "!vote P1 agree")  # the only service: closed
    await ask(alice, room, bot, "!propose Still open")
    bot.stop()
    db = Database(bot.database)
    db.call(lambda s: s.execute(update(Proposal).where(Proposal.number == 1).values(
        closed_at=datetime.now(UTC) - timedelta(days=31))))
    db.close()

    dry = coordbot("purge", "--dry-run", "-c", str(bot.config_path))
    assert dry.returncode == 0 and "Would delete:" in dry.stdout
    assert "closed proposals (with their votes): 1" in dry.stdout
    done = coordbot("purge", "-c", str(bot.config_path))
    assert done.returncode == 0, done.stderr
    assert "Deleted:" in done.stdout and "closed proposals (with their votes): 1" in done.stdout
    again = coordbot("purge", "--dry-run", "-c", str(bot.config_path))
    assert "closed proposals (with their votes): 0" in again.stdout

    bot.start()
    await bot.ready()
    gone, _ = await ask(alice, room, bot, "!proposal P1")
    assert "There is no proposal P1 in this room." in gone.body
    kept, _ = await ask(alice, room, bot, "!proposal P2")
    assert "Still open" in kept.body and "State: open" in kept.body
    bot.stop()


class _Existing:
    """The demo's homeserver, for the test client: its users exist already."""

    def __init__(self, base_url: str, server_name: str = "localhost"):
        self.base_url, self.server_name = base_url, server_name

    def register(self, localpart: str, _password: str) -> str:
        return f"@{localpart}:{self.server_name}"


def processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and proc.name != str(os.getpid()):
            found.append(f"{proc.name}: {cmdline}")
    return found


async def test_demo_answers_a_client_and_ctrl_c_leaves_nothing(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    demo = subprocess.Popen([*COORDBOT, "demo"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env={**os.environ, "TMPDIR": str(temp)})
    lines: list[str] = []
    client = None
    try:
        for line in demo.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        said = "".join(lines)
        url = re.search(r"Homeserver:\s+(\S+)", said)[1]
        password = re.search(r"alice / (\S+)", said)[1]
        client = await TestClient.login(_Existing(url), "alice", password,
                                        tmp_path / "alice")
        room = next(iter(client.client.rooms))
        asked = await client.send_text(room, "!help")
        reply = await client.wait_for_message(room, is_reply_to(asked), timeout=60)
        assert "!propose" in reply.body and "!vote" in reply.body
        assert "Commandes" in reply.body and "Opdrachten" in reply.body  # fr+nl
    finally:
        if client:
            await client.close()
        # Ctrl-C in its terminal, pressed twice: the second press comes while the first
        # one stops the demo
        for _ in range(2):
            os.killpg(demo.pid, signal.SIGINT)
            await asyncio.sleep(0.02)
        rest = await asyncio.to_thread(demo.stdout.read)
        await asyncio.to_thread(demo.wait, 60)
    output = "".join(lines) + rest
    assert demo.returncode == 0, output
    assert "Demo stopped and its files were removed." in output
    for bad in (" ERROR ", "Traceback", "Unclosed", "Exception"):
        assert bad not in output, output
    assert list(temp.iterdir()) == []  # its files are gone
    assert processes_mentioning(str(temp)) == []  # and so is its homeserver
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/_matrix/client/versions", timeout=5)


async def test_demo_ctrl_c_while_its_homeserver_starts_leaves_nothing(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    demo = subprocess.Popen([*COORDBOT, "demo"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env={**os.environ, "TMPDIR": str(temp)})
    output = await asyncio.to_thread(demo.stdout.readline)
    assert "Starting a local homeserver" in output
    os.killpg(demo.pid, signal.SIGINT)
    output += await asyncio.to_thread(demo.stdout.read)
    await asyncio.to_thread(demo.wait, 60)
    assert demo.returncode == 0, output
    assert "Demo stopped and its files were removed." in output
    for bad in (" ERROR ", "Traceback", "Unclosed", "Exception"):
        assert bad not in output, output
    assert list(temp.iterdir()) == []
    assert processes_mentioning(str(temp)) == []
