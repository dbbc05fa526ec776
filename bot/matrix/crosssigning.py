"""The bot's cross-signing identity: master, self-signing and user-signing keys (ed25519).

Made once, on the first start: the keys are uploaded (a first upload needs no password,
Matrix 1.11 / MSC3967), the bot's device is signed with the self-signing key, the private keys
stay sealed in the database, and the master key is printed once to standard output as a
recovery key for the operator. On every later start the bot checks that the homeserver still
has the same keys and that its device still carries the signature, and repairs only what is
missing. Replacing published keys needs the account's password, or on a homeserver that signs
in through a browser an approval there (`m.oauth`): the bot then says what to do.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nio import AsyncClient

from bot.config import ENV_PASSWORD, Config
from bot.matrix.session import Secrets
from bot.matrix.signing import (
    SigningKey,
    b64decode,
    b64encode,
    cross_signing_key,
    decode_recovery_key,
    encode_recovery_key,
    key_of,
    sign_json,
    signed_by,
)

log = logging.getLogger(__name__)
KEYS_FILE = "cross_signing.json"  # where an earlier version kept them, in matrix.store_path
API = "/_matrix/client/v3"
# browser approval of a key reset: the stable stage, and the unstable one before it
OAUTH_STAGES = ("m.oauth", "org.matrix.cross_signing_reset")


class CrossSigningUnavailable(Exception):
    """The identity cannot be set up now (no password, refused by the homeserver)."""


async def matrix_request(client: AsyncClient, method: str, path: str,
                         body: dict | None = None) -> tuple[int, dict]:
    """A client-server API call nio has no method for; returns (HTTP status, JSON body)."""
    headers = {"Content-Type": "application/json",
               "Authorization": f"Bearer {client.access_token}"}
    resp = await client.send(method, path, json.dumps(body) if body is not None else None,
                             headers)
    try:
        data = await resp.json(content_type=None)
    except (ValueError, TypeError):
        data = {}
    finally:
        resp.release()
    return resp.status, data if isinstance(data, dict) else {}


async def query_keys(client: AsyncClient, users: list[str]) -> dict:
    """The raw `/keys/query` body for `users` (nio's own response drops the cross-signing
    keys)."""
    status, body = await matrix_request(client, "POST", f"{API}/keys/query",
                                        {"device_keys": {u: [] for u in users}})
    if status != 200:
        raise ConnectionError(f"keys query refused: {status} {body.get('errcode', '')}")
    return body


@dataclass
class Identity:
    """The private cross-signing keys of one account, as kept (sealed) in the database."""

    user_id: str
    master: SigningKey
    self_signing: SigningKey
    user_signing: SigningKey
    recovery_key_shown: bool = False

    @classmethod
    def generate(cls, user_id: str) -> Identity:
        return cls(user_id, SigningKey.generate(), SigningKey.generate(), SigningKey.generate())

    @staticmethod
    def name(user_id: str) -> str:
        return f"cross-signing:{user_id}"

    @classmethod
    def load(cls, secrets: Secrets, user_id: str) -> Identity | None:
        raw = secrets.get(cls.name(user_id))
        return None if raw is None else cls.from_json(raw)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Identity:
        data = json.loads(raw)
        return cls(data["user_id"], *(SigningKey(b64decode(data[k]))
                                      for k in ("master", "self_signing", "user_signing")),
                   recovery_key_shown=bool(data.get("recovery_key_shown")))

    def save(self, secrets: Secrets) -> None:
        secrets.put(self.name(self.user_id), json.dumps({
            "user_id": self.user_id, "master": b64encode(self.master.seed),
            "self_signing": b64encode(self.self_signing.seed),
            "user_signing": b64encode(self.user_signing.seed),
            "recovery_key_shown": self.recovery_key_shown}).encode())

    def __repr__(self) -> str:
        return f"Identity({self.user_id}, master {self.master.public})"

    @property
    def recovery_key(self) -> str:
        return encode_recovery_key(self.master.seed)

    def public_keys(self) -> dict[str, dict]:
        u, master = self.user_id, self.master
        return {
            "master_key": cross_signing_key(u, "master", master.public),
            "self_signing_key": sign_json(
                cross_signing_key(u, "self_signing", self.self_signing.public),
                u, master.public, master),
            "user_signing_key": sign_json(
                cross_signing_key(u, "user_signing", self.user_signing.public),
                u, master.public, master),
        }

    def on_server(self, query: dict) -> bool:
        """Whether the homeserver publishes exactly these keys, properly chained."""
        u, m = self.user_id, self.master.public
        ssk = (query.get("self_signing_keys") or {}).get(u)
        usk = (query.get("user_signing_keys") or {}).get(u)
        return (key_of((query.get("master_keys") or {}).get(u), u, "master") == m
                and key_of(ssk, u, "self_signing") == self.self_signing.public
                and key_of(usk, u, "user_signing") == self.user_signing.public
                and signed_by(ssk, u, m, m) and signed_by(usk, u, m, m))


async def upload_keys(client: AsyncClient, identity: Identity, password: str | None,
                      query: dict | None = None) -> None:
    """Publish the keys, answering the homeserver's password stage when it asks for one.
    A master key the homeserver already publishes (`query`) is not sent again: only the
    keys it signs (Synapse refuses a master key it has stored before)."""
    path = f"{API}/keys/device_signing/upload"
    body: dict[str, Any] = identity.public_keys()
    u = identity.user_id
    if key_of(((query or {}).get("master_keys") or {}).get(u), u, "master") == \
            identity.master.public:
        del body["master_key"]
    status, answer = await matrix_request(client, "POST", path, body)
    if status == 401 and "flows" in answer:
        if not password or not _offers(answer, "m.login.password"):
            raise CrossSigningUnavailable(approval_needed(answer, bool(password)))
        log.info("the homeserver asks for the account's password to publish the keys")
        body["auth"] = {"type": "m.login.password", "session": answer.get("session"),
                        "identifier": {"type": "m.id.user", "user": client.user_id},
                        "password": password}
        status, answer = await matrix_request(client, "POST", path, body)
    if status != 200:
        raise CrossSigningUnavailable(f"the homeserver refused the keys: {status} "
                                      f"{answer.get('errcode', '')} {answer.get('error', '')}")


def _offers(answer: dict, stage: str) -> bool:
    return any(flow.get("stages") == [stage] for flow in answer.get("flows") or [])


def approval_needed(answer: dict, have_password: bool) -> str:
    """What the operator must do when the homeserver wants the replacement of published
    keys approved (its 401 answer with `flows`)."""
    params = answer.get("params") or {}
    for stage in OAUTH_STAGES:
        url = (params.get(stage) or {}).get("url")
        if _offers(answer, stage):
            where = f"open {url}" if url else "open the account's page on the homeserver"
            return ("replacing the bot's cross-signing keys must be approved in a browser: "
                    f"{where}, signed in as the bot's account, approve the reset of its "
                    "cross-signing keys, then restart the bot within a few minutes")
    if _offers(answer, "m.login.password"):
        return ("replacing the bot's published cross-signing keys needs the account's "
                f"password: set {ENV_PASSWORD} (or matrix.password) for one start, or put "
                "the earlier keys back with `coordbot restore-identity` if you have the "
                "recovery key (that too is published with the password)")
    stages = sorted({s for flow in answer.get("flows") or [] for s in flow.get("stages", [])})
    return ("replacing the bot's cross-signing keys needs an approval the bot cannot give "
            f"(the homeserver asks for {', '.join(stages) or 'nothing it names'}"
            f"{'' if have_password else '; no password is configured'})")


async def sign_device(client: AsyncClient, identity: Identity, device: dict) -> None:
    """Upload the self-signing key's signature of one of the account's devices."""
    signed = sign_json({k: v for k, v in device.items() if k not in ("signatures", "unsigned")},
                       identity.user_id, identity.self_signing.public, identity.self_signing)
    status, answer = await matrix_request(client, "POST", f"{API}/keys/signatures/upload",
                                          {identity.user_id: {device["device_id"]: signed}})
    failures = answer.get("failures") or {}
    if status != 200 or failures:
        raise CrossSigningUnavailable(f"the homeserver refused the device signature: "
                                      f"{status} {failures or answer.get('errcode', '')}")


async def ensure_identity(client: AsyncClient, secrets: Secrets, password: str | None, *,
                          announce: Callable[[Identity], None] | None = None) -> Identity:
    """Make, publish and apply the account's cross-signing keys, doing only what is missing.

    `announce` is called once in the life of the keys, after the homeserver accepted them
    (the bot prints the recovery key there). Raises CrossSigningUnavailable when the keys
    cannot be published now; they are then kept and published on a later start.
    """
    user_id, device_id = client.user_id, client.device_id
    if client.should_upload_keys:  # the device must be published before it can be signed
        await client.keys_upload()
    identity = Identity.load(secrets, user_id)
    if identity is None:
        identity = Identity.generate(user_id)
        identity.save(secrets)
        log.info("made new cross-signing keys for %s", user_id)
    query = await query_keys(client, [user_id])
    if not identity.on_server(query):
        on_server = key_of((query.get("master_keys") or {}).get(user_id), user_id, "master")
        if on_server == identity.master.public:
            log.info("new self-signing and user-signing keys for %s under its master key "
                     "(restored)", user_id)
        elif on_server:
            log.warning("the homeserver has other cross-signing keys for %s; replacing them "
                        "with the ones in the database", user_id)
        await upload_keys(client, identity, password, query)
        log.info("cross-signing keys of %s published (master key %s)", user_id,
                 identity.master.public)
        query = await query_keys(client, [user_id])
    device = (query.get("device_keys") or {}).get(user_id, {}).get(device_id)
    if device is None:
        raise CrossSigningUnavailable(f"the homeserver does not list device {device_id}")
    ssk = identity.self_signing.public
    if not signed_by(device, user_id, ssk, ssk):
        await sign_device(client, identity, device)
        log.info("device %s signed with the self-signing key", device_id)
    if not identity.recovery_key_shown:
        if announce is not None:
            announce(identity)
        identity.recovery_key_shown = True
        identity.save(secrets)
    return identity


def restore_identity(secrets: Secrets, user_id: str, recovery_key: str) -> bool:
    """Put the master key back from its recovery key, with new self-signing and
    user-signing keys that the bot publishes at its next start: whoever verified the bot
    trusts it again. False when the database already held this master key (nothing
    changed). Raises ValueError for a key that is not valid."""
    master = SigningKey(decode_recovery_key(recovery_key))
    old = Identity.load(secrets, user_id)
    if old is not None and old.master.public == master.public:
        return False
    Identity(user_id, master, SigningKey.generate(), SigningKey.generate(),
             recovery_key_shown=True).save(secrets)
    return True


def print_recovery_key(identity: Identity) -> None:
    """Show the master key once, to the operator's terminal and never to the log."""
    print("\n".join([
        "", "=" * 72,
        f"coordbot cross-signing recovery key for {identity.user_id}:", "",
        f"    {identity.recovery_key}", "",
        "It is the master cross-signing key of the bot's account. Keep it offline; it is",
        "shown only this once. (It is also in the database, sealed with the store key.)",
        "=" * 72, ""]), file=sys.stdout, flush=True)


async def set_up_cross_signing(client: AsyncClient, config: Config, secrets: Secrets) -> None:
    """The bot's start-up step: never stops the bot, says clearly in the log what failed."""
    try:
        await ensure_identity(client, secrets, config.matrix.password,
                              announce=print_recovery_key)
        log.info("cross-signing identity in place for device %s", client.device_id)
    except CrossSigningUnavailable as exc:
        log.warning("cross-signing cannot be set up: %s; the bot goes on without it", exc)
    except Exception as exc:  # noqa: BLE001 - the bot works without it; retried next start
        log.warning("cross-signing cannot be set up (%s: %s); the bot goes on without it",
                    type(exc).__name__, exc)
