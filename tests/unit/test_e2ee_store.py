"""The end-to-end encryption store in the database, on SQLite and PostgreSQL: what nio
writes comes back as it was, and the secrets in it are unreadable without the store key."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
from nio.crypto import (
    Olm,
    OlmAccount,
    OlmDevice,
    OutboundGroupSession,
    OutboundSession,
    OutgoingKeyRequest,
    TrustState,
)
from sqlalchemy import select

from bot.matrix.store import store_class
from bot.storage.db import Database
from bot.storage.e2ee import E2EERecords
from bot.storage.e2ee_models import E2EEAccount, E2EEMegolmSession
from bot.storage.models import Secret
from bot.storage.sealing import (
    CHECK,
    KDF,
    Sealer,
    SecretUnreadable,
    StoreKeyProblem,
    derive,
    key_file,
)
from bot.storage.vault import Vault
from harness.dbs import database_url

USER, DEVICE, ROOM = "@coordbot:example.org", "BOTDEVICE", "!room:example.org"
KEY = "a store key of the operator's choosing"


def machine(db: Database, key: str = KEY) -> Olm:
    """What nio builds at login: its Olm machine over the store class."""
    records = E2EERecords(db, Vault.open(db, key).sealer)
    return Olm(USER, DEVICE, store_class(records)(USER, DEVICE, "", "DEFAULT_KEY"))


def test_what_nio_stores_comes_back_after_a_restart(db):
    olm = machine(db)
    identity = olm.account.identity_keys
    olm.account.mark_keys_as_published()
    olm.account.shared = True  # as after the first keys upload
    olm.save_account()
    # a room key from alice's device, and a message of hers encrypted with it
    outbound = OutboundGroupSession()
    olm.create_group_session("alice-curve", "alice-ed", ROOM, outbound.id, outbound.session_key)
    outbound.mark_as_shared()
    secret = outbound.encrypt("the agenda of Thursday")
    # an Olm session with bob's device, and the devices the bot knows with their trust
    bob = OlmAccount()
    bob.generate_one_time_keys(1)
    one_time = next(iter(bob.one_time_keys["curve25519"].values()))
    session = OutboundSession(olm.account, bob.identity_keys["curve25519"], one_time)
    olm.store.save_session(bob.identity_keys["curve25519"], session)
    alice = OlmDevice("@alice:example.org", "ALICE", {"ed25519": "alice-ed",
                                                     "curve25519": "alice-curve"})
    carol = OlmDevice("@carol:example.org", "CAROL", {"ed25519": "c-ed", "curve25519": "c-cu"},
                      display_name="Element")
    olm.store.save_device_keys({alice.user_id: {"ALICE": alice}, carol.user_id: {"CAROL": carol}})
    assert olm.store.verify_device(alice) and not olm.store.verify_device(alice)
    olm.store.ignore_devices([carol])
    olm.store.save_device_keys({carol.user_id: {"CAROL": carol}})  # keys again: trust stays
    olm.store.save_encrypted_rooms({ROOM, "!other:example.org"})
    olm.store.delete_encrypted_room("!other:example.org")
    request = OutgoingKeyRequest("req1", outbound.id, ROOM, "m.megolm.v1.aes-sha2")
    olm.store.add_outgoing_key_request(request)
    olm.store.add_outgoing_key_request(OutgoingKeyRequest("req2", "s", ROOM, "m"))
    olm.store.remove_outgoing_key_request(OutgoingKeyRequest("req2", "s", ROOM, "m"))

    again = machine(db)
    assert again.account.identity_keys == identity and again.account.shared
    inbound = again.inbound_group_store.get(ROOM, "alice-curve", outbound.id)
    assert inbound.decrypt(secret)[0] == "the agenda of Thursday"
    assert again.session_store.get(bob.identity_keys["curve25519"]).id == session.id
    devices = again.device_store
    assert devices["@alice:example.org"]["ALICE"].trust_state == TrustState.verified
    assert devices["@carol:example.org"]["CAROL"].trust_state == TrustState.ignored
    assert devices["@carol:example.org"]["CAROL"].display_name == "Element"
    assert again.store.load_encrypted_rooms() == {ROOM}
    assert list(again.outgoing_key_requests) == ["req1"]
    assert again.store.load_sync_token() is None  # the bot keeps its own


def test_secrets_are_sealed_and_open_only_with_the_store_key(db):
    olm = machine(db)
    outbound = OutboundGroupSession()
    olm.create_group_session("k", "e", ROOM, outbound.id, outbound.session_key)
    account = db.call(lambda s: s.scalar(select(E2EEAccount.pickle)))
    megolm = db.call(lambda s: s.scalar(select(E2EEMegolmSession.pickle)))
    assert olm.account.pickle("DEFAULT_KEY") not in account  # not the bare nio pickle
    assert len(megolm) > 28
    with pytest.raises(StoreKeyProblem, match="does not open the secrets"):
        machine(db, "another key")


def test_a_sealed_value_opens_only_as_what_it_was_sealed_as():
    sealer = Sealer(bytes(32))
    sealed = sealer.seal(b"seed", "megolm:1")
    assert sealer.open(sealed, "megolm:1") == b"seed"
    for wrong in (lambda: sealer.open(sealed, "megolm:2"),
                  lambda: Sealer(bytes([1]) * 32).open(sealed, "megolm:1"),
                  lambda: sealer.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), "megolm:1")):
        with pytest.raises(SecretUnreadable):
            wrong()
    assert "seed" not in repr(sealer) and sealed != sealer.seal(b"seed", "megolm:1")


@pytest.mark.real_stretching
def test_the_store_key_is_stretched_600_000_times_and_the_check_row_says_how(tmp_path):
    salt = bytes(range(16))
    assert derive("a store key", salt) == hashlib.pbkdf2_hmac(
        "sha256", b"a store key", salt, 600_000, 32)
    db = Database(f"sqlite:///{tmp_path}/coordbot.db")
    db.migrate()
    Vault.open(db, KEY).put("login", b"{}")
    check = db.call(lambda s: s.get(Secret, CHECK).value)
    assert check[:1] == KDF == b"\x01"  # PBKDF2-HMAC-SHA256, 600 000 rounds
    assert Vault.open(db, KEY).get("login") == b"{}"
    db.close()


def test_vault_keeps_named_secrets(db):
    vault = Vault.open(db, KEY)
    assert vault.get("login") is None
    vault.put("login", b'{"access_token": "t"}')
    vault.put("login", b'{"access_token": "u"}')
    assert Vault.open(db, KEY).get("login") == b'{"access_token": "u"}'
    vault.delete("login")
    assert vault.get("login") is None


def test_sqlite_without_a_store_key_makes_one_in_a_private_file(tmp_path):
    url = f"sqlite:///{tmp_path}/coordbot.db"
    db = Database(url)
    db.migrate()
    Vault.open(db, None).put("x", b"1")
    path = key_file(url)
    assert path == tmp_path / "coordbot.db.store-key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert Vault.open(db, None).get("x") == b"1"  # the same key, read back
    assert Vault.open(db, path.read_text().strip()).get("x") == b"1"  # same as configuring it
    path.unlink()
    with pytest.raises(StoreKeyProblem, match="put that file back"):
        Vault.open(db, None)
    assert not path.exists()  # no new key over secrets sealed with the old one
    db.close()


def test_postgresql_needs_a_store_key(tmp_path):
    with database_url("postgresql", tmp_path) as url:
        db = Database(url)
        db.migrate()
        with pytest.raises(StoreKeyProblem, match="required with PostgreSQL"):
            Vault.open(db, None)
        db.close()
