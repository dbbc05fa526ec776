"""A throw-away local Synapse homeserver for ``coordbot demo`` and the test suite.

Synapse is an optional (development) dependency: nothing in this module imports
it.  The homeserver runs as a child process (``python -m synapse.app.homeserver``)
using the interpreter coordbot runs under, so it only has to be installed in the
same environment.  :func:`synapse_available` tells whether it is, and
:meth:`LocalSynapse.start` raises :class:`DevServerUnavailable` with an install
hint when it is not.

The server is configured for speed and for being hammered by tests: it listens
on 127.0.0.1 only, keeps its SQLite database, media and logs in one work
directory, federates with nobody, and has every rate limit raised far out of the
way.  Users are created through the shared-secret admin registration API.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import hashlib
import hmac
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import Any

from bot.devserver_config import (
    CONFIG_FILE,
    CONSOLE_LOG_FILE,
    INSTALL_HINT,
    LOG_FILE,
    DevServerError,
    DevServerUnavailable,
    homeserver_config,
    load_config,
    save_config,
    set_port,
    write_log_config,
)

__all__ = [
    "INSTALL_HINT",
    "DevServerError",
    "DevServerUnavailable",
    "LocalSynapse",
    "synapse_available",
]

log = logging.getLogger(__name__)

def synapse_available() -> bool:
    """Whether Synapse can be run by this interpreter (without importing it)."""
    try:
        return importlib.util.find_spec("synapse") is not None
    except (ImportError, ValueError):
        return False


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


# Servers still running when the interpreter exits are stopped, so an aborted
# test run or demo does not leave a homeserver behind.
_live_servers: weakref.WeakSet[LocalSynapse] = weakref.WeakSet()


@atexit.register
def _stop_live_servers() -> None:
    for server in list(_live_servers):
        with contextlib.suppress(Exception):
            server.stop()


class LocalSynapse:
    """A single-process Synapse bound to 127.0.0.1, with all state in ``workdir``.

    The configuration is written on first start and reused afterwards, so the
    same ``workdir`` keeps its users, rooms and port across :meth:`restart`
    (and across separate runs, e.g. of ``coordbot demo``).
    """

    host = "127.0.0.1"

    def __init__(
        self,
        workdir: Path,
        *,
        server_name: str = "localhost",
        log_level: str = "WARNING",
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.server_name = server_name
        self.log_level = log_level.upper()
        self.config_path = self.workdir / CONFIG_FILE
        self.log_path = self.workdir / LOG_FILE
        self.console_log_path = self.workdir / CONSOLE_LOG_FILE
        self.port: int | None = None
        self._shared_secret: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._console_log: Any = None
        self.last_startup_seconds: float | None = None

    # ------------------------------------------------------------------ info

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise DevServerError("the homeserver has no port yet; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def user_id(self, localpart: str) -> str:
        return f"@{localpart.lower()}:{self.server_name}"

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LocalSynapse {self.server_name} port={self.port} {state} {self.workdir}>"

    # ---------------------------------------------------------------- config

    def _prepare(self) -> None:
        """Write the configuration if absent, then read port and secret from it."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.config_path.exists():
            config = load_config(self.config_path)
            if config.get("server_name") != self.server_name:
                raise DevServerError(
                    f"{self.config_path} is for server {config.get('server_name')!r},"
                    f" not {self.server_name!r}"
                )
        else:
            config = homeserver_config(self.workdir, self.server_name)
            set_port(config, self.host, _free_port(self.host))
            save_config(self.config_path, config)
        write_log_config(self.workdir, self.log_path, self.log_level)
        self._shared_secret = str(config["registration_shared_secret"])
        self.port = int(config["listeners"][0]["port"])

    def _move_to_free_port(self) -> None:
        config = load_config(self.config_path)
        set_port(config, self.host, _free_port(self.host))
        save_config(self.config_path, config)
        self.port = int(config["listeners"][0]["port"])

    # -------------------------------------------------------------- lifecycle

    def start(self, timeout: float = 60) -> None:
        """Start the homeserver and wait until its client API answers.

        Does nothing if it is already running.  A brand-new server whose port
        got taken in the meantime is moved to another free port; a server that
        has run before keeps its port (clients may have its URL).
        """
        if self.running:
            return
        if not synapse_available():
            raise DevServerUnavailable()
        first_start = not self.config_path.exists()
        self._prepare()
        assert self.port is not None
        if not _port_is_free(self.host, self.port):
            if first_start:
                self._move_to_free_port()
            else:
                # The previous process may still be releasing the socket.
                self._wait_for_port(timeout=5)

        attempts = 3 if first_start else 1
        for attempt in range(attempts):
            try:
                self._spawn_and_wait(timeout)
                return
            except _AddressInUse:
                if attempt + 1 == attempts:
                    raise DevServerError(
                        f"port {self.port} is in use; see {self.log_path}"
                    ) from None
                self._move_to_free_port()

    def _wait_for_port(self, timeout: float) -> None:
        assert self.port is not None
        deadline = time.monotonic() + timeout
        while not _port_is_free(self.host, self.port):
            if time.monotonic() > deadline:
                raise DevServerError(
                    f"port {self.port} of {self.server_name} is taken by another process"
                )
            time.sleep(0.05)

    def _spawn_and_wait(self, timeout: float) -> None:
        began = time.monotonic()
        self._console_log = self.console_log_path.open("ab")
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        cmd = [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)]
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._proc = subprocess.Popen(
            cmd,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._console_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: signals reach only it
            env=env,
        )
        _live_servers.add(self)
        url = f"{self.base_url}/_matrix/client/versions"
        deadline = began + timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                self._close_console_log()
                self._proc = None
                tail = self._log_tail(log_offset)
                if "Address already in use" in tail or f"[Errno {errno.EADDRINUSE}]" in tail:
                    raise _AddressInUse()
                raise DevServerError(f"Synapse exited with status {code} during startup.\n{tail}")
            if self._answers(url):
                break
            if time.monotonic() > deadline:
                tail = self._log_tail(log_offset)
                self.stop()
                raise DevServerError(
                    f"Synapse did not answer on {url} within {timeout:.0f}s.\n{tail}"
                )
            time.sleep(0.05)
        self.last_startup_seconds = time.monotonic() - began
        log.info(
            "Synapse %s up on %s in %.2fs",
            self.server_name,
            self.base_url,
            self.last_startup_seconds,
        )

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def _log_tail(self, log_offset: int = 0, limit: int = 4000) -> str:
        parts = []
        for path, offset in ((self.console_log_path, 0), (self.log_path, log_offset)):
            try:
                data = path.read_bytes()[offset:]
            except OSError:
                continue
            text = data.decode("utf8", "replace").strip()
            if text:
                parts.append(f"--- {path.name} ---\n{text[-limit:]}")
        return "\n".join(parts)

    def _close_console_log(self) -> None:
        if self._console_log is not None:
            with contextlib.suppress(OSError):
                self._console_log.close()
            self._console_log = None

    def _signal(self, sig: int) -> None:
        assert self._proc is not None
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            # The group is gone and its id was reused; signal the child only.
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(sig)

    def stop(self, timeout: float = 15) -> None:
        """Shut the homeserver down (SIGTERM, then SIGKILL).  Idempotent."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("Synapse did not stop within %.0fs; killing it", timeout)
                self._signal(signal.SIGKILL)
                proc.wait()
        self._proc = None
        self._close_console_log()
        _live_servers.discard(self)

    def kill(self) -> None:
        """Kill the homeserver abruptly (SIGKILL), like a crash.  Idempotent.

        Use :meth:`start` to bring it back on the same port with the same data.
        """
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(signal.SIGKILL)
            proc.wait()
        self._proc = None
        self._close_console_log()
        _live_servers.discard(self)

    def restart(self, *, hard: bool = False, downtime: float = 0.0, timeout: float = 60) -> None:
        """Stop (or, with ``hard``, kill) the server and start it again.

        The port, database and media stay the same; ``downtime`` seconds pass
        between the two, for tests of how clients ride out an outage.
        """
        if hard:
            self.kill()
        else:
            self.stop()
        if downtime > 0:
            time.sleep(downtime)
        self.start(timeout=timeout)

    def __enter__(self) -> LocalSynapse:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- admin

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                payload = json.loads(raw or b"{}")
            except ValueError:
                payload = {"error": raw.decode("utf8", "replace")}
            return err.code, payload

    def register(self, localpart: str, password: str, *, admin: bool = False) -> str:
        """Create a user through the shared-secret admin API; return its user id.

        Registering a localpart that already exists is not an error: the
        existing user's id is returned (its password and admin flag are left
        as they are).
        """
        if not self.running:
            raise DevServerError("the homeserver is not running")
        assert self._shared_secret is not None
        status, payload = self._request("GET", "/_synapse/admin/v1/register")
        if status != 200 or "nonce" not in payload:
            raise DevServerError(f"could not get a registration nonce: {status} {payload}")
        nonce = str(payload["nonce"])
        mac = hmac.new(self._shared_secret.encode("utf8"), digestmod=hashlib.sha1)
        for part in (
            nonce.encode("utf8"),
            localpart.encode("utf8"),
            password.encode("utf8"),
        ):
            mac.update(part)
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        status, payload = self._request(
            "POST",
            "/_synapse/admin/v1/register",
            {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            },
        )
        if status == 200:
            return str(payload["user_id"])
        if payload.get("errcode") == "M_USER_IN_USE":
            return self.user_id(localpart)
        raise DevServerError(f"registering {localpart!r} failed: {status} {payload}")


class _AddressInUse(DevServerError):
    pass
