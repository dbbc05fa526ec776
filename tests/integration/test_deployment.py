"""Deployment: a token instead of a password, a refused token, an earlier version's store
folder imported, a database dump restored on a fresh host, a new store key; on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from contextlib import nullcontext

import pytest
from sqlalchemy import inspect

from harness.bot import BotProcess, log_out
from harness.client import is_reply_to
from harness.crosssigning import chain_of
from harness.dbs import database_url, own_database, unavailable
from harness.legacy import earlier_device
from tests.integration.test_cross_signing import RECOVERY_BANNER
from tests.integration.test_foundation import ask

pytestmark = pytest.mark.integration
KINDS = ["sqlite", "postgresql"]


def postgres_only(kind: str, url: str) -> str | None:
    return url if kind == "postgresql" else None  # SQLite: the bot's own, in its folder


async def exit_code(bot: BotProcess, timeout: float = 60) -> int:
    return await asyncio.to_thread(bot.proc.wait, timeout)


def snapshot(bot: BotProcess) -> dict[str, list]:
    """Every row of every table of the bot's database."""
    from sqlalchemy import create_engine

    engine = create_engine(bot.database)
    tables = inspect(engine).get_table_names()
    engine.dispose()
    return {t: sorted(map(repr, bot.sql(f'SELECT * FROM "{t}"'))) for t in tables}


@pytest.mark.parametrize("kind", KINDS)
async def test_with_a_token_the_bot_is_exactly_that_device(synapse, make_client, tmp_path,
                                                           kind):
    with database_url(kind, tmp_path) as url:
        bot = BotProcess(synapse, tmp_path / "bot", token=True,
                         database=postgres_only(kind, url)).start()
        device = bot.config["matrix"]["device_id"]
        assert "password" not in bot.config["matrix"]
        await bot.ready()
        assert f"signed in with the access token of {bot.user_id} on device {device}" in \
            bot.new_log()
        alice = await make_client("alice")
        room = await alice.create_encrypted_room(invite=[bot.user_id])
        await alice.wait_until_joined(room, bot.user_id)
        assert "now set up" in (await ask(alice, room, bot, "!room setup workgroup Jetons"))[0].body
        bot.stop()
        bot.start()
        await bot.ready()
        assert "Jetons" in (await ask(alice, room, bot, "!room info"))[0].body
        assert list(await chain_of(alice, bot.user_id)) == [device]  # never another device
        bot.stop()
        assert bot.access_token not in bot.log() and bot.access_token[:12] not in bot.log()


@pytest.mark.parametrize("kind", KINDS)
async def test_a_refused_token_stops_the_bot_at_once_changing_nothing(synapse, make_client,
                                                                      tmp_path, kind):
    with database_url(kind, tmp_path) as url:
        # refused at the very first start: not even the database is made
        fresh = BotProcess(synapse, tmp_path / "fresh", token=True,
                           database=postgres_only(kind, url))
        log_out(synapse, fresh.access_token)
        fresh.start()
        assert await exit_code(fresh) == 2
        said = fresh.new_log()
        assert "the homeserver refuses matrix.access_token (M_UNKNOWN_TOKEN)" in said
        assert "nothing was changed" in said and fresh.access_token not in said
        assert snapshot(fresh) == {}

        # a bot that runs: its token revoked, it stops; at its next start too, changing nothing
        bot = BotProcess(synapse, tmp_path / "bot", token=True,
                         database=postgres_only(kind, url)).start()
        await bot.ready()
        alice = await make_client("alice")
        room = await alice.create_encrypted_room(invite=[bot.user_id])
        await alice.wait_until_joined(room, bot.user_id)
        await ask(alice, room, bot, "!room setup workgroup Révoqué")
        log_out(synapse, bot.access_token)
        assert await exit_code(bot) == 2
        assert "no longer accepts matrix.access_token (M_UNKNOWN_TOKEN)" in bot.new_log()
        before = snapshot(bot)
        bot.start()
        assert await exit_code(bot) == 2
        assert "refuses matrix.access_token (M_UNKNOWN_TOKEN)" in bot.new_log()
        assert snapshot(bot) == before
        assert await chain_of(alice, bot.user_id) == {}  # its device went; none was made


async def test_with_a_password_a_revoked_login_is_made_again_on_the_same_device(
        synapse, make_client, tmp_path):
    bot = BotProcess(synapse, tmp_path / "bot").start()
    await bot.ready()
    alice = await make_client("alice")
    room = await alice.create_encrypted_room(invite=[bot.user_id])
    await alice.wait_until_joined(room, bot.user_id)
    await ask(alice, room, bot, "!room setup workgroup Reconnexion")
    device = bot.device_id
    log_out(synapse, bot.saved_login()["access_token"])  # an admin signed the bot out
    assert await exit_code(bot) == 1
    assert "at its next start the bot logs in again with the password" in bot.new_log()
    bot.start()
    await bot.ready()
    said = bot.new_log()
    assert f"logging in again on device {device}" in said and "uploading them again" in said
    # alice in a session that looks the device up now (matrix-nio, which her first session
    # runs on, keeps a device that went away as gone, even when it comes back)
    again = await make_client(localpart=alice.user_id[1:].split(":")[0])
    assert "Reconnexion" in (await ask(again, room, bot, "!room info"))[0].body
    devices = await chain_of(again, bot.user_id)
    assert list(devices) == [device] and devices[device].cross_signed
    bot.stop()


async def test_a_token_of_a_device_set_up_by_another_client_is_refused(synapse, make_client,
                                                                       tmp_path):
    bot = BotProcess(synapse, tmp_path / "bot", token=True)
    element = await make_client(localpart=bot.localpart, password=bot.password)
    bot.config["matrix"].update(access_token=element.client.access_token,
                                device_id=element.device_id)
    bot.write_config()
    bot.start()
    assert await exit_code(bot) == 2
    assert (f"device {element.device_id} already has encryption keys that this bot does not "
            "hold") in bot.new_log()


@pytest.mark.parametrize("kind", KINDS)
async def test_an_earlier_store_folder_is_imported_at_the_first_start(synapse, make_client,
                                                                     tmp_path, kind):
    with database_url(kind, tmp_path) as url:
        bot = BotProcess(synapse, tmp_path / "bot", database=postgres_only(kind, url))
        alice = await make_client("alice")
        room = await alice.create_encrypted_room(invite=[bot.user_id])
        earlier = await earlier_device(synapse, bot.user_id, bot.password,
                                       bot.workdir / "store")
        try:
            await earlier.join(room)
            await alice.wait_until_joined(room, bot.user_id)
            sent = await alice.send_text(room, "!help")  # to the earlier version's device
            for _ in range(60):  # which receives the message's key, as that version did
                await earlier.sync(timeout=1000)
                if any(s.room_id == room for s in earlier.olm.inbound_group_store):
                    break
            else:
                raise AssertionError("the earlier device never received the room key")
            device = earlier.device_id
        finally:
            await earlier.close()

        bot.start()
        await bot.ready()
        said = bot.new_log()
        assert "imported the store folder" in said and "may be removed" in said
        # the message sent before the upgrade is read with the key the folder held
        reply = await alice.wait_for_message(room, is_reply_to(sent), sender=bot.user_id)
        assert "!room setup" in reply.body
        devices = await chain_of(alice, bot.user_id)
        assert bot.device_id == device and list(devices) == [device]
        assert devices[device].cross_signed  # the same identity: nothing published again
        assert "published" not in said and RECOVERY_BANNER not in said
        bot.stop()
        bot.start()
        await bot.ready()
        assert "imported" not in bot.new_log()
        bot.stop()


def pg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_dump_restored_on_a_fresh_host_is_the_same_bot(synapse, make_client, tmp_path,
                                                               kind):
    tools = ("sqlite3",) if kind == "sqlite" else ("pg_dump", "pg_restore")
    for tool in tools:
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (the README's backup commands need it)")
    with own_database() if kind == "postgresql" else nullcontext() as first, \
            own_database() if kind == "postgresql" else nullcontext() as second:
        bot = BotProcess(synapse, tmp_path / "host1", database=first and first[1]).start()
        await bot.ready()
        alice = await make_client("alice")
        room = await alice.create_encrypted_room(invite=[bot.user_id])
        await alice.wait_until_joined(room, bot.user_id)
        await ask(alice, room, bot, "!room setup workgroup Sauvegarde")
        device = bot.device_id
        bot.stop()
        # sent before the dump, with the room key the bot already holds
        sent = await alice.send_text(room, "!room info")

        backup = tmp_path / "backup"
        backup.mkdir()
        if kind == "sqlite":
            db = bot.workdir / "coordbot.db"
            subprocess.run(["sqlite3", str(db), f".backup '{backup / 'coordbot.db'}'"],
                           check=True)
            shutil.copy(db.with_name("coordbot.db.store-key"), backup)
        else:
            subprocess.run(["pg_dump", "-Fc", "-f", str(backup / "coordbot.dump"),
                            pg_url(first[1])], check=True)
        shutil.rmtree(bot.workdir)  # the first host is gone

        restored = bot.twin("restored", workdir=tmp_path / "host2")
        if kind == "sqlite":
            shutil.copy(backup / "coordbot.db", restored.workdir)
            restored.start()  # without the store key: refused, saying what is missing
            assert await exit_code(restored) == 2
            assert "coordbot.db.store-key: put that file back" in restored.new_log()
            shutil.copy(backup / "coordbot.db.store-key", restored.workdir)
        else:
            subprocess.run(["pg_restore", "--no-owner", "-d", pg_url(second[1]),
                            str(backup / "coordbot.dump")], check=True)
            restored.config["storage"]["database"] = second[1]
            restored.write_config()
        restored.start()
        await restored.ready()
        reply = await alice.wait_for_message(room, is_reply_to(sent), sender=bot.user_id)
        assert "Sauvegarde" in reply.body
        assert restored.device_id == device
        assert list(await chain_of(alice, bot.user_id)) == [device]
        restored.stop()


def rotate_store_key(bot: BotProcess, new_key: str) -> subprocess.CompletedProcess:
    """`coordbot rotate-store-key`, the new key given on standard input."""
    return subprocess.run([sys.executable, "-m", "bot.cli", "rotate-store-key", "-c",
                           str(bot.config_path)], input=new_key + "\n", text=True,
                          capture_output=True, cwd=bot.workdir, timeout=60)


async def test_a_new_store_key_keeps_the_device_and_what_it_could_decrypt(
        synapse, make_client, tmp_path):
    old_key, new_key = "the store key a former colleague knew", "the store key of today"
    bot = BotProcess(synapse, tmp_path / "bot")
    bot.configure("matrix", store_key=old_key)
    bot.start()
    await bot.ready()
    alice = await make_client("alice")
    room = await alice.create_encrypted_room(invite=[bot.user_id])
    await alice.wait_until_joined(room, bot.user_id)
    await ask(alice, room, bot, "!room setup workgroup Clé")
    device = bot.device_id
    running = rotate_store_key(bot, new_key)  # refused: the bot holds the old key
    assert running.returncode == 2 and "Stop the bot first; nothing changed" in running.stderr
    bot.stop()
    sent = await alice.send_text(room, "!room info")  # with the room key the bot holds

    done = rotate_store_key(bot, new_key)
    assert done.returncode == 0, done.stderr
    assert "put the new key in matrix.store_key" in done.stdout
    for text in (done.stdout, done.stderr):
        assert old_key not in text and new_key not in text
    bot.configure("matrix", store_key=new_key)
    bot.start()
    await bot.ready()
    reply = await alice.wait_for_message(room, is_reply_to(sent), sender=bot.user_id)
    assert "Clé" in reply.body
    assert bot.device_id == device and list(await chain_of(alice, bot.user_id)) == [device]
    bot.stop()
    assert old_key not in bot.log() and new_key not in bot.log()
