"""A new store key: every sealed value opened under the current key and sealed again under
one derived from the new key with a fresh salt, and the check row replaced, in one
transaction: a failure anywhere (a value that does not open, the database going away)
leaves the database as it was, every value still under the current key.

The sealed values, with what each is sealed as: the named secrets (bot.storage.vault), each
device's Olm account and its Olm and Megolm session pickles (bot.storage.e2ee).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from bot.storage.db import Database
from bot.storage.e2ee import device_context
from bot.storage.e2ee_models import E2EEAccount, E2EEMegolmSession, E2EEOlmSession
from bot.storage.lease import Lease
from bot.storage.models import Secret
from bot.storage.sealing import CHECK, StoreKeyProblem, opens, sealer_for, unlock
from bot.storage.vault import secret_context

BATCH = 500  # sessions read and written at a time: a bot in many rooms holds thousands
Reseal = Callable[[bytes, str], bytes]


class Resealed(NamedTuple):
    secrets: int
    accounts: int
    olm_sessions: int
    megolm_sessions: int


class OutcomeUnknown(Exception):
    """The database did not confirm the commit: the change may or may not be made."""


def rotate(db: Database, store_key: str | None, new_key: str, *, lease: Lease | None = None,
           before_commit: Callable[[], None] = lambda: None) -> Resealed:
    """Seal every secret of `db` under `new_key` instead of the current key (`store_key`,
    or the key file as at the bot's start). With PostgreSQL, `lease` is the instance lock,
    held: an earlier holder that lost it without noticing is fenced off in the same
    transaction (it would seal with the old key). `before_commit` runs once all is
    re-sealed and nothing is committed yet (a failure there undoes it all).

    Raises StoreKeyProblem when the current key does not open the database, when the new
    key is the current one, or when nothing is sealed yet; SecretUnreadable when a value
    does not open; nothing is changed then. OutcomeUnknown when the commit itself failed."""
    committing = False
    try:
        with db.session() as s:
            if lease is not None:
                lease.fence_in(s)
            done = reseal_all(s, store_key, new_key, db.url)
            s.flush()
            before_commit()
            committing = True  # what fails from here is the commit itself
    except BaseException as exc:
        if committing:
            raise OutcomeUnknown(f"{type(exc).__name__}: the database did not confirm the "
                                 "change") from exc
        raise
    return done


def reseal_all(s: Session, store_key: str | None, new_key: str, database_url: str
               ) -> Resealed:
    if not new_key:
        raise ValueError("an empty store key protects nothing")
    check = s.get(Secret, CHECK)
    if check is None:
        raise StoreKeyProblem("the database holds no sealed secrets yet (the bot never "
                              "started on it): configure the new key and start the bot")
    old = unlock(s, store_key, database_url)
    if opens(check.value, new_key) is not None:
        raise StoreKeyProblem("the new store key is the current one")
    new, check.value = sealer_for(new_key)

    def again(sealed: bytes, context: str) -> bytes:
        return new.seal(old.open(sealed, context), context)

    secrets = s.scalars(select(Secret).where(Secret.name != CHECK)).all()
    for secret in secrets:
        secret.value = again(secret.value, secret_context(secret.name))
    devices = {}
    for account in s.scalars(select(E2EEAccount)).all():
        devices[account.id] = (account.user_id, account.device_id)
        account.pickle = again(account.pickle, device_context("account", *devices[account.id]))
    return Resealed(len(secrets), len(devices),
                    _sessions(s, E2EEOlmSession, "olm", devices, again),
                    _sessions(s, E2EEMegolmSession, "megolm", devices, again))


def _sessions(s: Session, model, kind: str, devices: dict[int, tuple[str, str]],
              again: Reseal) -> int:
    """Re-seal the pickles of one sessions table, a batch at a time, in key order."""
    keys = (model.account_id, model.session_id)
    count, after = 0, None
    while True:
        query = select(*keys, model.pickle).order_by(*keys).limit(BATCH)
        if after is not None:
            query = query.where(tuple_(*keys) > tuple_(*after))
        rows = s.execute(query).all()
        if not rows:
            return count
        s.execute(update(model), [  # by primary key
            {"account_id": r.account_id, "session_id": r.session_id,
             "pickle": again(r.pickle, device_context(kind, *devices[r.account_id],
                                                      r.session_id))} for r in rows])
        count += len(rows)
        after = (rows[-1].account_id, rows[-1].session_id)


def make_durable(db: Database) -> bool:
    """With SQLite, copy the write-ahead log into the database file and sync it: a commit
    then survives even a power cut (synchronous=NORMAL promises that only against a
    crash), before a key file that depends on it is replaced. False when that could not be
    done in full (another process holds an older snapshot open): the commit may then still
    be undone by a power cut."""
    if db.engine.dialect.name != "sqlite":
        return True  # PostgreSQL: a commit is flushed before it is confirmed
    conn = db.engine.raw_connection()
    try:
        cur = conn.cursor()
        busy, frames, copied = cur.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
        cur.close()
    finally:
        conn.close()
    return busy == 0 and frames == copied  # (0, -1, -1) outside WAL mode: synced at commit
