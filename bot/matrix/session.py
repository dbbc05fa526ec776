"""Signing in: one device for the bot's whole life, its login kept (sealed) in the database.

Two ways in. With `matrix.access_token` + `matrix.device_id` (a homeserver that signs in
through a browser gives a bot such a token, not a password) the bot uses exactly that device
and never makes another; a token the homeserver refuses stops it before it changes anything.
With `matrix.password` the first start logs in and saves the login; later starts restore it,
and if the saved token was revoked, log in again *on the same device*, so its keys survive.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass
from typing import Protocol

import aiohttp
from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse
from nio.store import MatrixStore

from bot.config import ENV_ACCESS_TOKEN, Config

log = logging.getLogger(__name__)
LOGIN = "login"  # the saved login's name among the sealed secrets
STORE_PATH = "(database)"  # nio loads its store only when given a path; ours ignores it
REFUSED = ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN")


class LoginFailed(Exception):
    exit_code = 1


class TokenRefused(LoginFailed):
    """The homeserver refuses the token: retrying cannot help, an operator must act."""

    exit_code = 2


class DeviceNotOurs(LoginFailed):
    """The device already has encryption keys the bot does not hold."""

    exit_code = 2


class Secrets(Protocol):
    """Named secrets kept sealed in the database (bot.storage.vault.Vault)."""

    def get(self, name: str) -> bytes | None: ...
    def put(self, name: str, value: bytes) -> None: ...


@dataclass(frozen=True)
class Credentials:
    user_id: str
    device_id: str
    access_token: str
    homeserver: str

    def __repr__(self) -> str:  # never print the token
        return f"Credentials({self.user_id}, {self.device_id})"


def load_credentials(secrets: Secrets, user_id: str) -> Credentials | None:
    raw = secrets.get(LOGIN)
    if raw is None:
        return None
    data = json.loads(raw)
    if data.get("user_id") != user_id:
        return None
    return Credentials(data["user_id"], data["device_id"], data["access_token"],
                       data.get("homeserver", ""))


def save_credentials(secrets: Secrets, creds: Credentials) -> None:
    secrets.put(LOGIN, json.dumps(asdict(creds)).encode())


def new_client(config: Config, store: type[MatrixStore]) -> AsyncClient:
    """A client whose end-to-end encryption store is `store` (bot.matrix.store)."""
    return AsyncClient(
        config.matrix.homeserver, config.matrix.user_id, store_path=STORE_PATH,
        config=AsyncClientConfig(store=store, encryption_enabled=True,
                                 store_sync_tokens=False, max_limit_exceeded=0,
                                 max_timeouts=0, request_timeout=60),
    )


async def whoami(client: AsyncClient, creds: Credentials) -> WhoamiResponse | str:
    """Ask the homeserver whose token this is, *without* loading the store (which would
    make an Olm account for the device). The response, or the refusal's errcode. Waits
    while the homeserver cannot be reached."""
    client.user_id, client.device_id = creds.user_id, creds.device_id
    client.access_token = creds.access_token
    delay = 1.0
    while True:
        try:
            who = await client.whoami()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            who = exc
        if isinstance(who, WhoamiResponse):
            return who
        if (refused := refusal(who)) is not None:
            return refused
        log.warning("homeserver %s cannot say whose the access token is (%s); retrying in "
                    "%.0fs", client.homeserver, _why(who), delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30)


def refusal(answer: object) -> str | None:
    """Why the homeserver refuses the access token ("soft logout", an errcode), if it
    does."""
    if getattr(answer, "soft_logout", False):
        return "soft logout"
    code = getattr(answer, "status_code", None)
    return code if code in REFUSED else None


def _why(answer: object) -> str:
    if isinstance(answer, Exception):
        return type(answer).__name__
    return f"{getattr(answer, 'status_code', '')} {getattr(answer, 'message', '')}".strip()


def check_still_signed_in(error: object, config: Config) -> None:
    """Stop when the homeserver refuses the token while the bot runs (revoked, expired,
    soft logout): with a configured token the operator must give a new one (TokenRefused);
    with a password, a restart logs in again on the same device (LoginFailed)."""
    why = refusal(error)
    if why is None:
        return
    if config.matrix.access_token:
        raise TokenRefused(f"the homeserver no longer accepts matrix.access_token ({why}); "
                           f"sign device {config.matrix.device_id} in again for a new token, "
                           f"and set it in matrix.access_token or {ENV_ACCESS_TOKEN}")
    raise LoginFailed(f"the homeserver no longer accepts the bot's access token ({why}); "
                      "at its next start the bot logs in again with the password, on the "
                      "same device")


def configured_token(config: Config) -> Credentials | None:
    m = config.matrix
    if not m.access_token:
        return None
    return Credentials(m.user_id, m.device_id, m.access_token, m.homeserver)


async def check_token(client: AsyncClient, config: Config) -> Credentials | None:
    """With `matrix.access_token`: the homeserver accepts it for this user and device, or
    TokenRefused says what to do. Nothing is changed either way."""
    creds = configured_token(config)
    if creds is None:
        return None
    who = await whoami(client, creds)
    if isinstance(who, str):
        raise TokenRefused(
            f"the homeserver refuses matrix.access_token ({who}) for {creds.user_id} on "
            f"device {creds.device_id}; nothing was changed. Sign the bot's device in again "
            f"to get a new token for device {creds.device_id} (on a server that signs in "
            f"through a browser: the account's sessions page) and set it in "
            f"matrix.access_token or {ENV_ACCESS_TOKEN}")
    if who.user_id != creds.user_id or (who.device_id and who.device_id != creds.device_id):
        raise TokenRefused(
            f"matrix.access_token belongs to {who.user_id} on device {who.device_id}, not "
            f"to matrix.user_id {creds.user_id} on matrix.device_id {creds.device_id}; "
            "nothing was changed")
    return creds


async def sign_in(client: AsyncClient, config: Config, secrets: Secrets) -> Credentials:
    """Sign in as the configured token, the saved login, or with the password."""
    creds = await check_token(client, config)
    if creds is not None:
        saved = load_credentials(secrets, config.matrix.user_id)
        if saved is not None and saved.device_id != creds.device_id:
            log.warning("the bot's device changes from %s to %s (matrix.device_id): messages "
                        "encrypted for %s only stay unreadable", saved.device_id,
                        creds.device_id, saved.device_id)
        client.restore_login(creds.user_id, creds.device_id, creds.access_token)
        save_credentials(secrets, creds)
        log.info("signed in with the access token of %s on device %s", creds.user_id,
                 creds.device_id)
        return creds
    saved = load_credentials(secrets, config.matrix.user_id)
    if saved is not None:
        who = await whoami(client, saved)
        if isinstance(who, WhoamiResponse):
            client.restore_login(saved.user_id, saved.device_id, saved.access_token)
            log.info("restored session of %s on device %s", saved.user_id, saved.device_id)
            return saved
        if not config.matrix.password:
            raise TokenRefused(f"the homeserver refuses the saved login of {saved.user_id} "
                               f"({who}) and no password is configured to log in again on "
                               f"device {saved.device_id}; nothing was changed")
        log.warning("saved access token refused (%s); logging in again on device %s",
                    who, saved.device_id)
        client.access_token = ""
    if not config.matrix.password:
        raise TokenRefused("no saved login and nothing to log in with: set matrix.password "
                           "(or COORDBOT_MATRIX_PASSWORD), or matrix.access_token with "
                           "matrix.device_id")
    resp = await client.login(config.matrix.password, device_name=config.matrix.device_name)
    if not isinstance(resp, LoginResponse):
        raise LoginFailed(f"login refused: {getattr(resp, 'message', resp)}")
    creds = Credentials(resp.user_id, resp.device_id, resp.access_token,
                        config.matrix.homeserver)
    save_credentials(secrets, creds)
    log.info("logged in as %s, device %s", resp.user_id, resp.device_id)
    return creds
