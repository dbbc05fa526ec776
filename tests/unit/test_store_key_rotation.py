"""A new store key, in the database (SQLite and PostgreSQL): every sealed value is sealed
again under it, opening to the same plain values; the old key is refused; a refusal or a
failure half-way changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.storage import rekey
from bot.storage.db import Database
from bot.storage.e2ee_models import E2EEMegolmSession
from bot.storage.rekey import Resealed, rotate
from bot.storage.sealing import (
    SecretUnreadable,
    StoreKeyProblem,
    key_file,
    pending_key_file,
    write_private,
)
from bot.storage.vault import Vault
from tests.unit.rekey_support import DEVICES, KEY, NEW, ROOM, fill, machine, opened, rows


def test_every_secret_opens_under_the_new_key_as_it_was_and_the_old_key_is_refused(
        db, monkeypatch):
    monkeypatch.setattr(rekey, "BATCH", 3)  # sessions read a batch at a time
    messages = fill(db, KEY)
    before, sealed = opened(db, KEY), rows(db)

    done = rotate(db, KEY, NEW)

    assert done == Resealed(secrets=2, accounts=2, olm_sessions=4, megolm_sessions=4)
    assert opened(db, NEW) == before
    after = rows(db)
    for table in ("bot_secrets", "e2ee_accounts", "e2ee_olm_sessions", "e2ee_megolm_sessions"):
        assert not set(after[table]) & set(sealed[table]), table  # every row sealed anew
    for device in DEVICES:  # nio reads its store, and a message sent before the rotation
        olm = machine(db, NEW, device)
        for (to, session), (encrypted, text) in messages.items():
            if to == device:
                inbound = olm.inbound_group_store.get(ROOM, "alice-curve", session)
                assert inbound.decrypt(encrypted)[0] == text
    with pytest.raises(StoreKeyProblem, match="does not open the secrets"):
        Vault.open(db, KEY)


@pytest.mark.parametrize("current, new, refused", [
    (KEY, KEY, "the new store key is the current one"),
    ("not the key the secrets were sealed with", NEW, "does not open the secrets"),
    (KEY, "", "an empty store key protects nothing"),
])
def test_a_refused_rotation_changes_nothing(db, current, new, refused):
    fill(db, KEY)
    before = rows(db)
    with pytest.raises((StoreKeyProblem, ValueError), match=refused):
        rotate(db, current, new)
    assert rows(db) == before


def test_a_database_with_nothing_sealed_is_left_alone(db):
    before = rows(db)
    with pytest.raises(StoreKeyProblem, match="no sealed secrets yet"):
        rotate(db, KEY, NEW)
    assert rows(db) == before


def test_a_failure_half_way_changes_nothing(db):
    fill(db, KEY)
    before = rows(db)

    def fail() -> None:
        raise OSError("no space left on the device")

    with pytest.raises(OSError):
        rotate(db, KEY, NEW, before_commit=fail)  # once everything is sealed anew
    assert rows(db) == before

    # the last value does not open: the secrets and accounts sealed anew before it are not
    # written either
    megolm = E2EEMegolmSession
    db.call(lambda s: s.execute(update(megolm).where(megolm.session_id == s.scalars(
        select(megolm.session_id).order_by(megolm.account_id.desc(),
                                           megolm.session_id.desc())).first())
        .values(pickle=b"\x01" + bytes(40))))
    damaged = rows(db)
    with pytest.raises(SecretUnreadable):
        rotate(db, KEY, NEW)
    assert rows(db) == damaged


def test_a_new_key_file_left_beside_the_old_one_by_a_crash_after_the_commit_is_taken_up(
        tmp_path):
    """The command writes the new key beside the key file before the commit and moves it
    into place after: a crash in between leaves the database under the new key and the old
    key file. The bot's next start takes the new one."""
    url = f"sqlite:///{tmp_path}/coordbot.db"
    db = Database(url)
    db.migrate()
    fill(db, None)  # the key made at the first start, in the key file
    old = key_file(url).read_text().strip()
    before = opened(db, None)
    pending = pending_key_file(url)
    rotate(db, None, NEW, before_commit=lambda: write_private(pending, NEW + "\n"))

    assert key_file(url).read_text().strip() == old  # the crash: not moved yet
    assert opened(db, None) == before
    assert key_file(url).read_text().strip() == NEW and not pending.exists()
    with pytest.raises(StoreKeyProblem):
        Vault.open(db, old)
    db.close()


def test_a_new_key_file_left_by_a_rotation_that_did_not_commit_is_not_taken(tmp_path):
    url = f"sqlite:///{tmp_path}/coordbot.db"
    db = Database(url)
    db.migrate()
    fill(db, None)
    old = key_file(url).read_text()
    write_private(pending_key_file(url), NEW + "\n")  # written, then the commit failed
    assert opened(db, None)["secrets"]["login"]
    assert key_file(url).read_text() == old
    db.close()
