"""Login once, then restore: the bot keeps one device (and its keys) for its whole life."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse

from bot.config import Config

log = logging.getLogger(__name__)
CREDENTIALS = "credentials.json"


class LoginFailed(Exception):
    pass


@dataclass(frozen=True)
class Credentials:
    user_id: str
    device_id: str
    access_token: str
    homeserver: str

    def __repr__(self) -> str:  # never print the token
        return f"Credentials({self.user_id}, {self.device_id})"


def load_credentials(store: Path) -> Credentials | None:
    path = store / CREDENTIALS
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return Credentials(data["user_id"], data["device_id"], data["access_token"],
                       data.get("homeserver", ""))


def write_private_json(path: Path, data: dict) -> None:
    """Replace a file that only the bot's user may read (mode 0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.chmod(tmp, 0o600)  # also when the file was left over with other permissions
    os.replace(tmp, path)


def save_credentials(store: Path, creds: Credentials) -> None:
    write_private_json(store / CREDENTIALS, creds.__dict__)


def new_client(config: Config) -> AsyncClient:
    store = config.matrix.store_path
    store.mkdir(parents=True, exist_ok=True)
    os.chmod(store, 0o700)
    return AsyncClient(
        config.matrix.homeserver, config.matrix.user_id, store_path=str(store),
        config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False,
                                 max_limit_exceeded=0, max_timeouts=0,
                                 request_timeout=60),
    )


async def sign_in(client: AsyncClient, config: Config) -> Credentials:
    """Restore the saved device, or log in with the password the first time.

    If the saved token was revoked, log in again *with the same device id*, so the
    device and its encryption keys survive.
    """
    store = config.matrix.store_path
    saved = load_credentials(store)
    if saved is not None:
        client.restore_login(saved.user_id, saved.device_id, saved.access_token)
        who = await client.whoami()
        if isinstance(who, WhoamiResponse):
            log.info("restored session of %s on device %s", saved.user_id, saved.device_id)
            return saved
        log.warning("saved access token refused (%s); logging in again on device %s",
                    getattr(who, "status_code", "?"), saved.device_id)
        client.device_id = saved.device_id
    if not config.matrix.password:
        raise LoginFailed("no saved session and no password (matrix.password or "
                          "COORDBOT_MATRIX_PASSWORD)")
    resp = await client.login(config.matrix.password, device_name=config.matrix.device_name)
    if not isinstance(resp, LoginResponse):
        raise LoginFailed(f"login refused: {getattr(resp, 'message', resp)}")
    creds = Credentials(resp.user_id, resp.device_id, resp.access_token,
                        config.matrix.homeserver)
    save_credentials(store, creds)
    log.info("logged in as %s, device %s", resp.user_id, resp.device_id)
    return creds
