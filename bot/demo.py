"""`coordbot demo`: a throwaway homeserver, demo users and an encrypted room that is set up."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import signal
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import yaml
from nio import AsyncClient, LoginResponse, RoomCreateResponse

from bot.config import load_config
from bot.devserver import DevServerUnavailable, LocalSynapse
from bot.stopping import stop_on_signals
from bot.storage.db import Database
from bot.storage.models import Representative, Room

ROOM_NAME = "Plateforme régionale — démo / Regionaal platform — demo"
BANNER = """
coordbot demo is running.

  Homeserver:  {url}   (sign in with any Matrix client on this machine,
               e.g. Element Desktop: "Edit" the homeserver and paste this URL)
  Users:       alice / {alice}   (room creator: chair)
               bob   / {bob}   (member)
  Room:        "{room}" — encrypted, set up as a regional platform,
               alice represents "Police", bob "Prévention".

Try:  !help   !room info   !services   !propose "Test" --deadline 10m
Press Ctrl-C to stop; everything is thrown away.
"""


def run_demo(directory: str | None = None) -> int:
    keep = directory is not None
    workdir = Path(directory) if keep else Path(tempfile.mkdtemp(prefix="coordbot-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    hs = LocalSynapse(workdir / "homeserver")
    try:  # Ctrl-C may come at any moment, also while the homeserver starts
        print("Starting a local homeserver…", flush=True)
        hs.start()
        return asyncio.run(_demo(hs, workdir))
    except DevServerUnavailable as exc:
        print(exc)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: clean up all the same
        hs.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        print("Demo stopped" + (f"; its files stay in {workdir}." if keep else
                                " and its files were removed."))


async def _demo(hs: LocalSynapse, workdir: Path) -> int:
    stop_on_signals(asyncio.current_task())
    with contextlib.suppress(asyncio.CancelledError):  # Ctrl-C: the bot closed what it opened
        await _run(hs, workdir)
    return 0


async def _run(hs: LocalSynapse, workdir: Path) -> None:
    passwords = {name: secrets.token_urlsafe(9) for name in ("coordbot", "alice", "bob")}
    users = {name: hs.register(name, pw) for name, pw in passwords.items()}
    config_path = workdir / "config.yaml"
    if not config_path.exists():
        config_path.write_text(yaml.safe_dump({
            "matrix": {"homeserver": hs.base_url, "user_id": users["coordbot"],
                       "password": passwords["coordbot"]},
            "storage": {"database": "sqlite:///./coordbot.db"},
            "bot": {"allowed_servers": [hs.server_name], "language": "fr+nl",
                    "admins": [users["alice"]]},
        }))
    config = load_config(config_path)
    room_id = await _create_room(hs, users, passwords)
    _set_up_room(config.storage.database, room_id, users)

    from bot.app import Bot

    bot = Bot(config)
    running = asyncio.create_task(bot.run())
    try:
        # Announce only once the bot has its device and has joined: a client that signs in
        # and writes before that would encrypt its first message for no device of the bot.
        while not (bot.link and bot.link.synced.is_set()) and not running.done():
            await asyncio.sleep(0.1)
        if not running.done():
            print(BANNER.format(url=hs.base_url, alice=passwords["alice"],
                                bob=passwords["bob"], room=ROOM_NAME), flush=True)
        await running
    finally:  # stopped: the bot closes its connections before the homeserver goes
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def _create_room(hs: LocalSynapse, users: dict, passwords: dict) -> str:
    client = AsyncClient(hs.base_url, users["alice"])
    try:
        login = await client.login(passwords["alice"], device_name="demo setup")
        if not isinstance(login, LoginResponse):
            raise RuntimeError(f"demo login failed: {login}")
        resp = await client.room_create(
            name=ROOM_NAME, invite=[users["coordbot"], users["bob"]],
            initial_state=[{"type": "m.room.encryption", "state_key": "",
                            "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
        if not isinstance(resp, RoomCreateResponse):
            raise RuntimeError(f"demo room creation failed: {resp}")
        await client.logout()
        return resp.room_id
    finally:
        await client.close()


def _set_up_room(database: str, room_id: str, users: dict) -> None:
    db = Database(database)
    db.migrate()

    def setup(s):
        room = Room(matrix_id=room_id, kind="platform", name="Demo", language="fr+nl",
                    timezone="Europe/Brussels", reminders="1d,1h", agenda_deadline=2 * 86400,
                    set_up_by=users["alice"], set_up_at=datetime.now(UTC))
        s.add(room)
        s.flush()
        s.add_all([Representative(room_id=room.id, user_id=users["alice"], service="Police"),
                   Representative(room_id=room.id, user_id=users["bob"],
                                  service="Prévention")])

    db.call(setup)
    db.close()
