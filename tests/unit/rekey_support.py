"""A database with a secret in every sealed table, what it holds opened, and every row of it:
for the tests of a new store key."""

from __future__ import annotations

from nio.crypto import Olm, OlmAccount, OutboundGroupSession, OutboundSession
from sqlalchemy import inspect, select, text

from bot.matrix.store import store_class
from bot.storage.db import Database
from bot.storage.e2ee import E2EERecords
from bot.storage.e2ee_models import E2EEAccount
from bot.storage.models import Secret
from bot.storage.sealing import CHECK
from bot.storage.vault import Vault

USER, ROOM = "@coordbot:example.org", "!room:example.org"
DEVICES = ("BOTDEVICE", "EARLIERDEVICE")
KEY = "the store key before the rotation"
NEW = "the store key after the rotation"


def machine(db: Database, key: str | None, device: str = DEVICES[0]) -> Olm:
    """What nio builds at login: its Olm machine over the store class."""
    records = E2EERecords(db, Vault.open(db, key).sealer)
    return Olm(USER, device, store_class(records)(USER, device, "", "DEFAULT_KEY"))


def fill(db: Database, key: str | None) -> dict[tuple[str, str], tuple[dict, str]]:
    """Named secrets, and for two devices an Olm account, two Olm sessions and two Megolm
    sessions; returns, by (device, session id), a message encrypted with that session."""
    vault = Vault.open(db, key)
    vault.put("login", b'{"access_token": "syt_not_a_real_token"}')
    vault.put("cross_signing", b'{"master": "seed"}')
    messages = {}
    for device in DEVICES:
        olm = machine(db, key, device)
        olm.save_account()
        for n in range(2):
            outbound = OutboundGroupSession()
            olm.create_group_session("alice-curve", "alice-ed", ROOM, outbound.id,
                                     outbound.session_key)
            outbound.mark_as_shared()
            text_ = f"message {n} to {device}"
            messages[device, outbound.id] = (outbound.encrypt(text_), text_)
            bob = OlmAccount()
            bob.generate_one_time_keys(1)
            one_time = next(iter(bob.one_time_keys["curve25519"].values()))
            olm.store.save_session(bob.identity_keys["curve25519"],
                                   OutboundSession(olm.account, bob.identity_keys["curve25519"],
                                                   one_time))
    return messages


def opened(db: Database, key: str | None) -> dict:
    """Every sealed value of the database, opened with `key`."""
    vault = Vault.open(db, key)
    names = db.call(lambda s: s.scalars(select(Secret.name).where(Secret.name != CHECK)).all())
    devices = db.call(lambda s: s.execute(select(E2EEAccount.user_id,
                                                 E2EEAccount.device_id)).all())
    everything: dict = {"secrets": {name: vault.get(name) for name in names}}
    for user, device in devices:
        records = E2EERecords(db, vault.sealer).device(user, device)
        everything[device] = (records.load_account(), sorted(records.load_olm_sessions()),
                              sorted(records.load_megolm_sessions()))
    return everything


def rows(db: Database) -> dict[str, list[str]]:
    """Every row of every table, as text."""
    tables = inspect(db.engine).get_table_names()
    with db.engine.connect() as conn:
        return {t: sorted(map(repr, conn.execute(text(f'SELECT * FROM "{t}"'))))
                for t in tables}
