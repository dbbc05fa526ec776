"""The Synapse child process: spawned in its own process group, waited for until its client
API answers, signalled to stop; and what is listening on which local port."""

from __future__ import annotations

import atexit
import contextlib
import errno
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

from bot.devserver.config import DevServerError

log = logging.getLogger(__name__)

# Processes still running when the interpreter exits are stopped, so an aborted test run
# or demo does not leave a homeserver behind.
_live: weakref.WeakSet[SynapseProcess] = weakref.WeakSet()


@atexit.register
def _stop_live() -> None:
    for process in list(_live):
        with contextlib.suppress(Exception):
            process.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class AddressInUse(DevServerError):
    pass


class SynapseProcess:
    def __init__(self, workdir: Path, config_path: Path, log_path: Path, console_log_path: Path):
        self.workdir = workdir
        self.config_path = config_path
        self.log_path = log_path
        self.console_log_path = console_log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._console_log: Any = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def spawn_and_wait(self, url: str, timeout: float) -> None:
        """Start Synapse and wait until `url` answers; AddressInUse when its port is taken."""
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
        _live.add(self)
        deadline = began + timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                self._close_console_log()
                self._proc = None
                tail = self._log_tail(log_offset)
                if "Address already in use" in tail or f"[Errno {errno.EADDRINUSE}]" in tail:
                    raise AddressInUse()
                raise DevServerError(f"Synapse exited with status {code} during startup.\n{tail}")
            if _answers(url):
                return
            if time.monotonic() > deadline:
                tail = self._log_tail(log_offset)
                self.stop()
                raise DevServerError(
                    f"Synapse did not answer on {url} within {timeout:.0f}s.\n{tail}"
                )
            time.sleep(0.05)

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
        """SIGTERM, then SIGKILL.  Idempotent."""
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
        self._ended()

    def kill(self) -> None:
        """SIGKILL, like a crash.  Idempotent."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(signal.SIGKILL)
            proc.wait()
        self._ended()

    def _ended(self) -> None:
        self._proc = None
        self._close_console_log()
        _live.discard(self)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False
