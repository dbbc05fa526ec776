"""The bot as its operator runs it: `coordbot run -c config.yaml` in its own process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot import faults
from bot.devserver import LocalSynapse
from bot.devserver.admin import request


def login_token(hs: LocalSynapse, user_id: str, password: str) -> tuple[str, str]:
    """An access token and its device, as an operator gets them for the bot (here through
    the client-server API; on a homeserver behind an OpenID provider, from that)."""
    status, body = request(hs.base_url, "POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id},
        "password": password, "initial_device_display_name": "coordbot"})
    assert status == 200, body
    return body["access_token"], body["device_id"]


def log_out(hs: LocalSynapse, token: str) -> None:
    req = urllib.request.Request(hs.base_url + "/_matrix/client/v3/logout", data=b"{}",
                                 method="POST", headers={"Authorization": f"Bearer {token}",
                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200


class BotProcess:
    live: weakref.WeakSet[BotProcess] = weakref.WeakSet()  # stopped after each test

    def __init__(self, hs: LocalSynapse, workdir: Path, *, bot: dict[str, Any] | None = None,
                 database: str | None = None, localpart: str | None = None,
                 log_level: str = "INFO", homeserver: str | None = None,
                 token: bool = False):
        """`homeserver`: the URL the bot is given (e.g. a proxy's); `token`: the bot gets an
        access token and its device id instead of a password (the test keeps the password,
        as `password`)."""
        self.hs = hs
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.localpart = localpart or f"coordbot-{secrets.token_hex(3)}"
        self.password = secrets.token_urlsafe(12)
        self.user_id = hs.register(self.localpart, self.password)
        self.config_path = self.workdir / "config.yaml"
        self.log_path = self.workdir / "bot.log"
        login: dict[str, Any] = {"password": self.password}
        self.access_token: str | None = None
        if token:
            self.access_token, device = login_token(hs, self.user_id, self.password)
            login = {"access_token": self.access_token, "device_id": device}
        database = database or "sqlite:///./coordbot.db"
        if database.startswith("postgresql"):
            login["store_key"] = secrets.token_urlsafe(24)
        self.config = {
            "matrix": {"homeserver": homeserver or hs.base_url, "user_id": self.user_id,
                       **login, "device_name": "coordbot", "store_path": "./store"},
            "storage": {"database": database},
            "bot": {"allowed_servers": [hs.server_name], "language": "en",
                    "undecryptable_notice": "10m", **(bot or {})},
        }
        self.write_config()
        self.log_level = log_level
        self.proc: subprocess.Popen | None = None
        self._log_offset = 0

    def write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config))

    def configure(self, section: str, **values: Any) -> None:
        """Change keys of one section of the configuration file (read at the next start)."""
        self.config.setdefault(section, {}).update(values)
        self.write_config()

    @property
    def database(self) -> str:
        """The database URL, as the bot resolves it."""
        url = self.config["storage"]["database"]
        return url.replace("sqlite:///./", f"sqlite:///{self.workdir}/")

    def twin(self, name: str = "twin", *, workdir: Path | None = None) -> BotProcess:
        """A second process with the same configuration (account, database), in the same
        working directory, or in `workdir`, a folder of its own as on another host (it
        gets the configuration file, nothing else)."""
        other = object.__new__(BotProcess)
        other.__dict__.update(self.__dict__)
        other.config = json.loads(json.dumps(self.config))
        if workdir is not None:
            other.workdir = Path(workdir)
            other.workdir.mkdir(parents=True, exist_ok=True)
            other.config_path = other.workdir / "config.yaml"
            other.write_config()
        other.log_path = other.workdir / f"{name}.log"
        other.proc = None
        other._log_offset = 0
        return other

    def sql(self, statement: str, **params: Any) -> list:
        """Run one statement on the bot's database (to look, or to break something)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.database)
        try:
            with engine.begin() as conn:
                result = conn.execute(text(statement), params)
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()

    def move_meeting(self, title: str, start: datetime) -> None:
        """(The bot stopped) Move the meeting called `title` to `start`, to the second, as if
        it had been added long ago: what falls due before it (a reminder, the agenda's
        closing) falls due at that real moment, without a wait for a whole minute."""
        from sqlalchemy import select

        from bot.storage.db import Database
        from bot.storage.meetings import Meeting

        def move(s) -> None:
            meeting = s.scalars(select(Meeting).where(Meeting.title == title)).one()
            meeting.start = start.astimezone(ZoneInfo(meeting.tz)).replace(
                tzinfo=None, microsecond=0)
            meeting.created_at = datetime.now(UTC) - timedelta(minutes=30)
            if meeting.last_end is not None:  # a series without an end keeps none
                meeting.last_end = start.astimezone(UTC) + timedelta(
                    seconds=meeting.duration)
            meeting.remind_at = meeting.agenda_at = None  # planned again at the start
            meeting.remind_offsets = meeting.agenda_planned = None

        db = Database(self.database)
        try:
            db.call(move)
        finally:
            db.close()

    def move_deadline(self, number: int, when: datetime) -> None:
        """Move proposal P<number>'s deadline to `when` (a test's rooms hold one series of
        proposal numbers): a deadline passes in seconds, without a wait of minutes."""
        from sqlalchemy import update

        from bot.storage.db import Database
        from bot.storage.proposals import Proposal

        db = Database(self.database)
        try:
            db.call(lambda s: s.execute(update(Proposal).where(Proposal.number == number)
                                        .values(deadline=when)))
        finally:
            db.close()

    async def all_sent(self, timeout: float = 60) -> None:
        """Until the bot has marked every message it queued sent (nothing more goes out)."""
        from sqlalchemy import func, select

        from bot.storage.db import Database
        from bot.storage.models import Outbox

        db = Database(self.database)
        try:
            for _ in range(int(timeout / 0.1)):
                left = await asyncio.to_thread(db.call, lambda s: s.scalar(
                    select(func.count()).select_from(Outbox).where(Outbox.sent_at.is_(None))))
                if not left:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(f"{left} messages still unsent after {timeout}s")
        finally:
            await asyncio.to_thread(db.close)

    def saved_login(self) -> dict:
        """The login the bot keeps (sealed) in its database, opened with its store key."""
        from bot.storage.db import Database
        from bot.storage.vault import Vault

        db = Database(self.database)
        try:
            return json.loads(Vault.open(db, self.config["matrix"].get("store_key"))
                              .get("login"))
        finally:
            db.close()

    def start(self, *, crash_at: str | None = None,
              env: dict[str, str] | None = None) -> BotProcess:
        """Start `coordbot run`; `crash_at` ("point[:n],…") arms crash points (bot.faults),
        as `arm` does once it runs; `env`: more environment variables."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        env.pop(faults.ENV, None)
        self.arm(crash_at or "")
        env[faults.PLAN_FILE] = str(self.crash_plan)
        BotProcess.live.add(self)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "-c", str(self.config_path),
             "--log-level", self.log_level],
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT, env=env,
            cwd=self.workdir)
        return self

    @property
    def crash_plan(self) -> Path:
        return self.workdir / f"{self.log_path.stem}.crash-plan"

    def arm(self, plan: str) -> None:
        """Arm crash points of the running bot ("point[:n],…"; "" disarms); passages are
        counted from now."""
        new = self.crash_plan.with_suffix(".new")
        new.write_text(plan)
        new.rename(self.crash_plan)  # whole: the bot never reads half a plan

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def new_log(self) -> str:
        return self.log()[self._log_offset:]

    async def wait_log(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.new_log():
                return
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"bot exited ({self.proc.returncode}):\n{self.new_log()}")
            await asyncio.sleep(0.1)
        raise AssertionError(f"bot log never said {text!r}:\n{self.new_log()[-3000:]}")

    async def ready(self, timeout: float = 60) -> BotProcess:
        await self.wait_log("ready: first sync handled", timeout)
        return self

    async def crashed(self, timeout: float = 60) -> str:
        """Wait until an armed crash point ended the process; returns the point's name."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"no crash point reached in {timeout:g}s:\n"
                                     f"{self.new_log()[-3000:]}")
            await asyncio.sleep(0.05)
        code, self.proc = self.proc.returncode, None
        found = re.findall(r"crash point (\S+) reached", self.new_log())
        if code != faults.EXIT_CODE or not found:
            raise AssertionError(f"bot exited ({code}) without reaching a crash point:\n"
                                 f"{self.new_log()[-3000:]}")
        return found[-1]

    def listening_ports(self) -> set[int]:
        """The TCP ports the running bot process listens on (read from /proc)."""
        pid = self.proc.pid
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        ports = set()
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        return ports

    @property
    def device_id(self) -> str:
        """The device the bot last said it signs in as."""
        said = re.findall(r"(?:on device|, device) (\w+)", self.log())
        assert said, f"the bot never said its device:\n{self.log()[-2000:]}"
        return said[-1]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
