"""`coordbot rotate-store-key`: the new key read from standard input (or made, for the key
file), everything sealed anew, and what to do next said, never a key; refused, changing
nothing, while the bot runs or when a key is wrong."""

from __future__ import annotations

import io
import os
import stat

import pytest
import yaml

from bot import storekey
from bot.cli import main
from bot.leader import Leadership
from bot.storage.db import Database
from bot.storage.sealing import StoreKeyProblem, key_file, pending_key_file
from bot.storage.vault import Vault
from harness.dbs import database_url
from tests.unit.rekey_support import KEY, NEW, fill, opened, rows


def config_file(tmp_path, url: str, store_key: str | None = KEY) -> str:
    matrix = {"homeserver": "http://127.0.0.1:1", "user_id": "@coordbot:example.org",
              "password": "x"}
    if store_key is not None:
        matrix["store_key"] = store_key
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"matrix": matrix, "storage": {"database": url}}))
    return str(path)


def rotate_store_key(config: str, monkeypatch, typed: str | None = NEW,
                     *more: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO("" if typed is None else typed + "\n"))
    return main(["rotate-store-key", "-c", config, *more])


@pytest.fixture(params=["sqlite", "postgresql"])
def filled(request, tmp_path):
    """A migrated database of either kind, with a secret in every sealed table."""
    with database_url(request.param, tmp_path) as url:
        db = Database(url)
        db.migrate()
        fill(db, KEY)
        yield db
        db.close()


def said(capsys) -> str:
    out, err = capsys.readouterr()
    assert KEY not in out + err and NEW not in out + err
    return out + err


def test_the_database_is_sealed_under_the_typed_key_and_it_says_where_to_put_it(
        filled, tmp_path, monkeypatch, capsys):
    before = opened(filled, KEY)
    config = config_file(tmp_path, filled.url)
    assert rotate_store_key(config, monkeypatch) == 0
    out = said(capsys)
    assert "Sealed under the new store key: 2 secret(s), 2 Olm account(s)" in out
    assert f"put the new key in matrix.store_key of {config}" in out
    assert opened(filled, NEW) == before
    with pytest.raises(StoreKeyProblem):
        Vault.open(filled, KEY)


def test_a_key_given_in_the_environment_is_replaced_there(filled, tmp_path, monkeypatch,
                                                          capsys):
    monkeypatch.setenv("COORDBOT_STORE_KEY", KEY)
    assert rotate_store_key(config_file(tmp_path, filled.url, None), monkeypatch) == 0
    assert "set COORDBOT_STORE_KEY to the new key" in said(capsys)
    assert opened(filled, NEW)["secrets"]["login"]


@pytest.mark.parametrize("current, typed, more, refused", [
    (KEY, None, (), "no new store key on standard input"),
    (KEY, "", (), "no new store key on standard input"),
    (KEY, "too short", (), "too short to protect anything"),
    (KEY, f" {NEW}", (), "begins or ends with a space"),
    (KEY, KEY, (), "the new store key is the current one"),
    ("not the key the secrets were sealed with", NEW, (), "does not open the secrets"),
    (KEY, None, ("--generate",), "--generate makes a key that nobody sees"),
])
def test_a_refusal_says_why_and_changes_nothing(filled, tmp_path, monkeypatch, capsys,
                                                current, typed, more, refused):
    before = rows(filled)
    code = rotate_store_key(config_file(tmp_path, filled.url, current), monkeypatch, typed,
                            *more)
    assert code == 2
    out = said(capsys)
    assert refused in out and "nothing changed" in out
    assert rows(filled) == before


def test_refused_while_the_bot_runs(filled, tmp_path, monkeypatch, capsys):
    running = Leadership(filled.url)
    running.take_now()  # the instance lock, as the running bot holds it
    before = rows(filled)
    try:
        assert rotate_store_key(config_file(tmp_path, filled.url), monkeypatch) == 2
    finally:
        running.release()
        if running.lease is not None:
            running.lease.dispose()
    out = said(capsys)
    assert "Stop the bot first; nothing changed" in out
    assert rows(filled) == before and opened(filled, KEY)["secrets"]["login"]


@pytest.fixture
def key_in_a_file(tmp_path):
    """An SQLite database whose key the bot made and keeps in a file beside it."""
    url = f"sqlite:///{tmp_path}/coordbot.db"
    db = Database(url)
    db.migrate()
    fill(db, None)
    yield db, key_file(url), key_file(url).read_text().strip()
    db.close()


def test_generate_replaces_the_key_file(key_in_a_file, tmp_path, monkeypatch, capsys):
    db, path, old = key_in_a_file
    before = opened(db, None)
    config = config_file(tmp_path, db.url, None)
    assert rotate_store_key(config, monkeypatch, None, "--generate") == 0
    new = path.read_text().strip()
    out = said(capsys)
    assert f"The new key is in {path}, in place of the old one" in out
    assert old not in out and new not in out and len(new) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not pending_key_file(db.url).exists()
    assert opened(db, None) == before
    with pytest.raises(StoreKeyProblem):
        Vault.open(db, old)


def test_a_typed_key_replaces_the_key_file_too(key_in_a_file, tmp_path, monkeypatch,
                                               capsys):
    db, path, _ = key_in_a_file
    assert rotate_store_key(config_file(tmp_path, db.url, None), monkeypatch) == 0
    said(capsys)
    assert path.read_text().strip() == NEW
    assert opened(db, NEW)["secrets"]["login"]


def test_a_failure_before_the_commit_leaves_the_key_file_and_the_database(
        key_in_a_file, tmp_path, monkeypatch):
    db, path, old = key_in_a_file
    before = rows(db)
    real = storekey.write_private

    def disk_full(target, text):
        real(target, text)
        raise OSError("no space left on the device")

    monkeypatch.setattr(storekey, "write_private", disk_full)
    with pytest.raises(OSError):
        rotate_store_key(config_file(tmp_path, db.url, None), monkeypatch)
    assert rows(db) == before and path.read_text().strip() == old
    assert not pending_key_file(db.url).exists()


def test_a_crash_between_the_commit_and_the_key_file_loses_nothing(
        key_in_a_file, tmp_path, monkeypatch):
    db, path, old = key_in_a_file
    before = opened(db, None)

    def crash(source, target):
        raise SystemExit("killed")

    monkeypatch.setattr(storekey, "replace_private", crash)
    with pytest.raises(SystemExit):
        rotate_store_key(config_file(tmp_path, db.url, None), monkeypatch)
    assert path.read_text().strip() == old  # and the database is sealed under the new key
    assert opened(db, None) == before  # as the bot's next start opens it
    assert path.read_text().strip() == NEW


def test_a_commit_not_yet_safe_on_disk_leaves_the_old_key_file_in_place(
        key_in_a_file, tmp_path, monkeypatch, capsys):
    """Another process reads the database: the log cannot be copied in full, so a power cut
    could still undo the commit. The old key file stays; the new key waits beside it, and
    the bot's next start moves it into place."""
    db, path, old = key_in_a_file
    before = opened(db, None)
    assert storekey.make_durable(db)  # nobody else reading: done in full
    monkeypatch.setattr(storekey, "make_durable", lambda db: False)
    assert rotate_store_key(config_file(tmp_path, db.url, None), monkeypatch) == 0
    out = said(capsys)
    assert f"The new store key waits in {pending_key_file(db.url)}" in out
    assert "in place of the old one" not in out
    assert path.read_text().strip() == old and pending_key_file(db.url).exists()
    assert opened(db, None) == before  # as the bot's next start opens it
    assert path.read_text().strip() == NEW and not pending_key_file(db.url).exists()
