"""The bot's cross-signing identity, and rooms that accept only cross-signed devices."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bot.matrix.crosssigning import query_keys
from bot.matrix.signing import SigningKey, decode_recovery_key
from harness.bot import BotProcess
from harness.client import is_reply_to
from harness.crosssigning import chain_of, cross_sign
from harness.dbs import database_url

pytestmark = pytest.mark.integration

RECOVERY_BANNER = "cross-signing recovery key for"


async def test_bot_device_is_cross_signed_once_and_for_good(synapse, make_client, tmp_path):
    bot = BotProcess(synapse, tmp_path / "bot").start()
    await bot.ready()
    alice = await make_client("alice")
    devices = await chain_of(alice, bot.user_id)
    assert devices[bot.device_id].cross_signed  # master → self-signing → the bot's device

    # the recovery key was shown once, and it is the master key the server publishes
    out = bot.new_log()
    assert out.count(RECOVERY_BANNER) == 1
    key_text = recovery_key(out)
    master = SigningKey(decode_recovery_key(key_text))
    published = await query_keys(alice.client, [bot.user_id])
    assert published["master_keys"][bot.user_id]["keys"] == {
        f"ed25519:{master.public}": master.public}
    assert key_text.replace(" ", "") not in re.sub(r"\n    E.*\n", "", out)  # not in the log

    bot.stop()
    bot.start()
    await bot.ready()
    assert RECOVERY_BANNER not in bot.new_log()
    assert "published" not in bot.new_log() and "signed with" not in bot.new_log()
    assert await query_keys(alice.client, [bot.user_id]) == published

    # keys lost (a database restored from a backup older than them): the operator puts
    # them back from the recovery key
    bot.stop()
    forget_keys(bot)

    typo = key_text[:-1] + ("a" if key_text[-1] != "a" else "b")
    refused = restore(bot, typo)
    assert refused.returncode == 2 and "nothing changed" in refused.stderr
    assert typo not in refused.stdout + refused.stderr
    done = restore(bot, key_text)
    assert done.returncode == 0 and "restored" in done.stdout, done.stderr
    assert restore(bot, key_text).stdout.startswith("The database already holds this master key")
    bot.start()
    await bot.ready()
    assert "under its master key (restored)" in bot.new_log()
    assert RECOVERY_BANNER not in bot.new_log()  # the operator has it already
    back = await query_keys(alice.client, [bot.user_id])
    assert back["master_keys"] == published["master_keys"]
    assert back["self_signing_keys"] != published["self_signing_keys"]  # new, signed by it
    devices = await chain_of(alice, bot.user_id)
    assert devices[bot.device_id].cross_signed

    # keys lost and not restored: new ones replace them, which takes the account's password
    bot.stop()
    forget_keys(bot)
    bot.start()
    await bot.ready()
    assert "asks for the account's password" in bot.new_log()
    assert bot.new_log().count(RECOVERY_BANNER) == 1
    devices = await chain_of(alice, bot.user_id)
    assert devices[bot.device_id].cross_signed
    assert (await query_keys(alice.client, [bot.user_id]))["master_keys"] != \
        published["master_keys"]
    bot.stop()


def recovery_key(out: str) -> str:
    """The recovery key as the bot prints it once to standard output."""
    return re.search(r"\n    (E\S{3}(?: \S{1,4})+)\n", out).group(1)


def restore(bot: BotProcess, key: str) -> subprocess.CompletedProcess:
    """`coordbot restore-identity`, the key typed on standard input."""
    return subprocess.run([sys.executable, "-m", "bot.cli", "restore-identity", "-c",
                           str(bot.config_path)], input=key + "\n", text=True,
                          capture_output=True, cwd=bot.workdir, timeout=60)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_without_a_password_the_bot_cross_signs_and_says_what_a_replacement_needs(
        synapse, make_client, tmp_path, kind):
    with database_url(kind, tmp_path) as url:
        bot = BotProcess(synapse, tmp_path / "bot", token=True,
                         database=url if kind == "postgresql" else None).start()
        await bot.ready()
        alice = await make_client("alice")
        # a first upload needs no password (MSC3967)
        assert (await chain_of(alice, bot.user_id))[bot.device_id].cross_signed
        assert "password" not in bot.new_log()
        key_text = recovery_key(bot.new_log())
        published = await query_keys(alice.client, [bot.user_id])

        # keys lost: replacing the published ones needs the password; the bot says so, and
        # works on with what it has
        bot.stop()
        forget_keys(bot)
        bot.start()
        await bot.ready()
        assert ("replacing the bot's published cross-signing keys needs the account's "
                "password: set COORDBOT_MATRIX_PASSWORD") in bot.new_log()
        assert RECOVERY_BANNER not in bot.new_log()
        room = await alice.create_encrypted_room(invite=[bot.user_id])
        await alice.wait_until_joined(room, bot.user_id)
        assert "!room setup" in (await ask(alice, room, bot, "!help")).body
        assert await query_keys(alice.client, [bot.user_id]) == published

        # the operator restores the master key and gives the password for one start
        bot.stop()
        done = restore(bot, key_text)
        assert done.returncode == 0 and "set COORDBOT_MATRIX_PASSWORD for that start" in \
            done.stdout, done.stderr
        bot.start(env={"COORDBOT_MATRIX_PASSWORD": bot.password})
        await bot.ready()
        assert "under its master key (restored)" in bot.new_log()
        back = await query_keys(alice.client, [bot.user_id])
        assert back["master_keys"] == published["master_keys"]
        assert (await chain_of(alice, bot.user_id))[bot.device_id].cross_signed
        bot.stop()


def forget_keys(bot: BotProcess) -> None:
    bot.sql("DELETE FROM bot_secrets WHERE name = :n", n=f"cross-signing:{bot.user_id}")


async def ask(client, room, bot, text):
    event_id = await client.send_text(room, text)
    return await client.wait_for_message(room, is_reply_to(event_id), sender=bot.user_id,
                                         msgtypes=("m.notice",))


async def test_taskforce_accepts_commands_only_from_cross_signed_devices(
        synapse, make_client, tmp_path):
    bot = BotProcess(synapse, tmp_path / "bot",
                     bot={"require_cross_signed_devices": ["tfl"]}).start()
    alice = await make_client("alice")  # an ordinary session nobody verified
    carol = await make_client("carol")
    await cross_sign(carol)  # carol verified this session of hers
    assert (await chain_of(alice, carol.user_id))[carol.device_id].cross_signed
    await bot.ready()
    room = await carol.create_encrypted_room(invite=[bot.user_id, alice.user_id])
    await carol.wait_until_joined(room, bot.user_id)
    await alice.join(room)
    await carol.wait_until_joined(room, alice.user_id)
    assert "now set up" in (await ask(carol, room, bot, "!room setup tfl TFL Liège")).body

    refused = await ask(alice, room, bot, "!meeting add 2030-01-10 14:00 Monthly TFL")
    assert "Your device is not verified by its owner (cross-signing)" in refused.body
    assert "Verify this session in your client" in refused.body

    answered = await ask(carol, room, bot, "!meeting list")
    assert "not verified" not in answered.body
    assert "Monthly TFL" not in answered.body  # the refused command changed nothing
    added = await ask(carol, room, bot, "!meeting add 2030-01-10 14:00 Monthly TFL")
    assert "M1" in added.body

    # what the bot says to carol stays unreadable on alice's session
    await alice.wait_until(lambda: any(
        ev.sender == bot.user_id and ev.event_id == added.event_id
        for ev in alice.undecryptable(room)), what="the bot's answer to carol, encrypted")
    assert all(ev.event_id != added.event_id for ev in alice.messages(room))

    # an answer to a poll from alice's session is not counted either
    for user, service in ((alice, "Police"), (carol, "Parquet")):
        assert service in (await ask(carol, room, bot, f"!service {user.user_id} {service}")).body
    proposed = await ask(carol, room, bot, "!propose Joint patrols")
    poll = await carol.wait_for_message(
        room, lambda e: e.source.get("type") == "org.matrix.msc3381.poll.start",
        sender=bot.user_id, msgtypes=None, since=0, after=proposed.event_id)
    answer = await alice.send_message(room, {
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll.event_id},
        "org.matrix.msc3381.poll.response": {"answers": ["agree"]},
    }, event_type="org.matrix.msc3381.poll.response")
    not_counted = await alice.wait_for_message(room, is_reply_to(answer), sender=bot.user_id)
    assert "your answer was not counted" in not_counted.body
    status = await ask(carol, room, bot, "!proposal P1")
    assert "Police: " + alice.user_id in status.body.split("Still to vote:")[1]
    bot.stop()
