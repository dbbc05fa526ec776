"""The local Synapse process: started on a free port, waited for, stopped or killed.

The homeserver runs as a child process (``python -m synapse.app.homeserver``) using the
interpreter coordbot runs under, so it only has to be installed in the same environment.
:func:`synapse_available` tells whether it is, and :meth:`LocalSynapse.start` raises
:class:`DevServerUnavailable` with an install hint when it is not.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path

from bot.devserver.admin import register_user
from bot.devserver.config import (
    CONFIG_FILE,
    CONSOLE_LOG_FILE,
    LOG_FILE,
    DevServerError,
    DevServerUnavailable,
    homeserver_config,
    load_config,
    save_config,
    set_port,
    write_log_config,
)
from bot.devserver.process import AddressInUse, SynapseProcess, free_port, port_is_free

log = logging.getLogger(__name__)


def synapse_available() -> bool:
    """Whether Synapse can be run by this interpreter (without importing it)."""
    try:
        return importlib.util.find_spec("synapse") is not None
    except (ImportError, ValueError):
        return False


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
        self.process = SynapseProcess(self.workdir, self.config_path, self.log_path,
                                      self.console_log_path)
        self.last_startup_seconds: float | None = None

    # ------------------------------------------------------------------ info

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise DevServerError("the homeserver has no port yet; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process.running

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
            set_port(config, self.host, free_port(self.host))
            save_config(self.config_path, config)
        write_log_config(self.workdir, self.log_path, self.log_level)
        self._shared_secret = str(config["registration_shared_secret"])
        self.port = int(config["listeners"][0]["port"])

    def _move_to_free_port(self) -> None:
        config = load_config(self.config_path)
        set_port(config, self.host, free_port(self.host))
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
        if not port_is_free(self.host, self.port):
            if first_start:
                self._move_to_free_port()
            else:
                # The previous process may still be releasing the socket.
                self._wait_for_port(timeout=5)

        attempts = 3 if first_start else 1
        for attempt in range(attempts):
            try:
                began = time.monotonic()
                self.process.spawn_and_wait(f"{self.base_url}/_matrix/client/versions", timeout)
                self.last_startup_seconds = time.monotonic() - began
                log.info("Synapse %s up on %s in %.2fs", self.server_name, self.base_url,
                         self.last_startup_seconds)
                return
            except AddressInUse:
                if attempt + 1 == attempts:
                    raise DevServerError(
                        f"port {self.port} is in use; see {self.log_path}"
                    ) from None
                self._move_to_free_port()

    def _wait_for_port(self, timeout: float) -> None:
        assert self.port is not None
        deadline = time.monotonic() + timeout
        while not port_is_free(self.host, self.port):
            if time.monotonic() > deadline:
                raise DevServerError(
                    f"port {self.port} of {self.server_name} is taken by another process"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 15) -> None:
        """Shut the homeserver down (SIGTERM, then SIGKILL).  Idempotent."""
        self.process.stop(timeout)

    def kill(self) -> None:
        """Kill the homeserver abruptly (SIGKILL), like a crash.  Idempotent.

        Use :meth:`start` to bring it back on the same port with the same data.
        """
        self.process.kill()

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

    def register(self, localpart: str, password: str, *, admin: bool = False) -> str:
        """Create a user through the shared-secret admin API; return its user id.

        Registering a localpart that already exists is not an error: the
        existing user's id is returned (its password and admin flag are left
        as they are).
        """
        if not self.running:
            raise DevServerError("the homeserver is not running")
        assert self._shared_secret is not None
        return register_user(self.base_url, self._shared_secret, localpart, password,
                             admin=admin) or self.user_id(localpart)
