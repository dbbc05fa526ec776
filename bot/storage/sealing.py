"""Secrets at rest: sealed with AES-256-GCM under a key derived from the store key.

What is sealed: the Olm account, the Olm and Megolm sessions, the saved access token and the
cross-signing private keys. Each sealed value is bound to what it is (its `context`, e.g. the
session's id), so a row copied over another does not open. Public material (device keys,
room ids, key request ids) is stored as is.

The store key is the operator's (`matrix.store_key`, `COORDBOT_STORE_KEY`), or with SQLite
and none given, a random one kept in a file beside the database (mode 0600). The database
keeps a salt and a check value, so a wrong key is refused at start instead of failing on the
first secret it meets. A new store key seals everything again (bot.storage.rekey).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import PBKDF2
from sqlalchemy.orm import Session

from bot.storage.models import Secret

FORMAT = b"\x01"  # AES-256-GCM, 12-byte nonce, 16-byte tag
NONCE, TAG, SALT = 12, 16, 16
KDF = b"\x01"  # PBKDF2-HMAC-SHA256, ITERATIONS, the salt kept in the check row
ITERATIONS = 600_000
CHECK = "store-key-check"
ENV_STORE_KEY = "COORDBOT_STORE_KEY"


class StoreKeyProblem(Exception):
    """The store key is missing or does not open the database's secrets."""


class SecretUnreadable(Exception):
    """A sealed value does not open with this key and context."""


class Sealer:
    def __init__(self, key: bytes):
        if len(key) != 32:
            raise ValueError("a sealing key has 32 bytes")
        self._key = key

    def __repr__(self) -> str:  # never show the key
        return "Sealer(…)"

    def seal(self, data: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(NONCE)
        cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce)
        cipher.update(context.encode())
        body, tag = cipher.encrypt_and_digest(data)
        return FORMAT + nonce + body + tag

    def open(self, sealed: bytes, context: str) -> bytes:
        sealed = bytes(sealed)
        if not sealed.startswith(FORMAT) or len(sealed) < 1 + NONCE + TAG:
            raise SecretUnreadable(context)
        nonce, body, tag = sealed[1:1 + NONCE], sealed[1 + NONCE:-TAG], sealed[-TAG:]
        cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce)
        cipher.update(context.encode())
        try:
            return cipher.decrypt_and_verify(body, tag)
        except ValueError:
            raise SecretUnreadable(context) from None


def derive(store_key: str, salt: bytes) -> bytes:
    """Slow on purpose, so that a store key chosen by a person is not cheap to guess from a
    dump (a fraction of a second, once a start). PBKDF2 rather than scrypt: scrypt's 16 to
    32 MiB would raise the bot's peak memory by as much, for the rare key weak enough to
    need it."""
    return PBKDF2(store_key, salt, 32, count=ITERATIONS, hmac_hash_module=SHA256)


def key_file(database_url: str) -> Path | None:
    """Where a generated store key is kept: beside the SQLite database file."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.split("///", 1)[1] if "///" in database_url else ""
    if not path or path == ":memory:":
        return None
    return Path(path + ".store-key")


def unlock(s: Session, store_key: str | None, database_url: str) -> Sealer:
    """The sealer of this database's secrets, checked against the database.

    Without a store key: SQLite keeps a generated one in a file beside the database; a
    database whose secrets were sealed before cannot be opened with a new one."""
    check = s.get(Secret, CHECK)
    from_file = not store_key
    if not store_key:
        store_key = _key_from_file(database_url, exists=check is not None)
    if check is None:
        sealer, value = sealer_for(store_key)
        s.add(Secret(name=CHECK, value=value))
        return sealer
    if check.value[:1] != KDF:
        raise StoreKeyProblem("the database's secrets were sealed by a newer version of "
                              "coordbot (unknown key derivation): run that version")
    sealer = opens(check.value, store_key)
    if sealer is None and from_file:
        sealer = _finish_rotation(check.value, database_url)
    if sealer is None:
        raise StoreKeyProblem(
            "the store key does not open the secrets in the database (they were sealed "
            "with another one): give the key they were made with, in matrix.store_key or "
            f"{ENV_STORE_KEY}" + _file_hint(database_url))
    return sealer


def sealer_for(store_key: str) -> tuple[Sealer, bytes]:
    """A sealer under a fresh salt, and the check row's value that goes with it."""
    salt = secrets.token_bytes(SALT)
    sealer = Sealer(derive(store_key, salt))
    return sealer, KDF + salt + sealer.seal(b"coordbot", CHECK)


def opens(check: bytes, store_key: str) -> Sealer | None:
    """The sealer `store_key` gives if it opens the check row's value `check`, else None."""
    salt, sealed = check[1:1 + SALT], check[1 + SALT:]
    sealer = Sealer(derive(store_key, salt))
    try:
        sealer.open(sealed, CHECK)
    except SecretUnreadable:
        return None
    return sealer


def pending_key_file(database_url: str) -> Path | None:
    """Where `coordbot rotate-store-key` puts the new key of the key file until the database is
    sealed under it (bot.storekey)."""
    path = key_file(database_url)
    return None if path is None else path.with_name(path.name + ".new")


def _finish_rotation(check: bytes, database_url: str) -> Sealer | None:
    """A rotation that committed but stopped before moving the new key file into place:
    the new key opens the database, so it becomes the key file now."""
    pending = pending_key_file(database_url)
    if pending is None or not pending.exists():
        return None
    sealer = opens(check, pending.read_text().strip())
    if sealer is not None:
        replace_private(pending, key_file(database_url))
    return sealer


def generate_store_key() -> str:
    return secrets.token_urlsafe(32)


def _file_hint(database_url: str) -> str:
    path = key_file(database_url)
    return f", or put back the file {path}" if path else ""


def _key_from_file(database_url: str, *, exists: bool) -> str:
    path = key_file(database_url)
    if path is None:
        if database_url.startswith("sqlite"):  # in memory: nothing outlives the process
            return generate_store_key()
        raise StoreKeyProblem(f"matrix.store_key (or {ENV_STORE_KEY}) is required with "
                              "PostgreSQL: it encrypts the end-to-end encryption secrets "
                              "kept in the database")
    if path.exists():
        return path.read_text().strip()
    if exists:
        raise StoreKeyProblem(
            f"the secrets in the database were sealed with a store key that is neither "
            f"configured (matrix.store_key, {ENV_STORE_KEY}) nor in {path}: put that file "
            "back, or configure the key")
    key = generate_store_key()
    write_private(path, key + "\n")
    return key


def write_private(path: Path, text: str) -> None:
    """Replace a file that only the bot's user may read (mode 0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())  # on disk before it replaces the file: never an empty key
    os.chmod(tmp, 0o600)  # also when the file was left over with other permissions
    replace_private(tmp, path)


def replace_private(source: Path, path: Path) -> None:
    """Move `source` over `path` atomically, the move itself on disk when this returns."""
    os.replace(source, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
