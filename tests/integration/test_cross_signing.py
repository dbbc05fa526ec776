"""The bot's cross-signing identity, and rooms that accept only cross-signed devices."""

from __future__ import annotations

import re

import pytest

from bot.matrix.crosssigning import query_keys
from bot.matrix.signing import SigningKey, decode_recovery_key
from tests.support.bot import BotProcess
from tests.support.crosssigning import chain_of

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
    key_text = re.search(r"\n    (E\S{3}(?: \S{1,4})+)\n", out).group(1)
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

    # keys lost from the store: new ones replace them, which takes the account's password
    bot.stop()
    (bot.workdir / "store" / "cross_signing.json").unlink()
    bot.start()
    await bot.ready()
    assert "asks for the account's password" in bot.new_log()
    assert bot.new_log().count(RECOVERY_BANNER) == 1
    devices = await chain_of(alice, bot.user_id)
    assert devices[bot.device_id].cross_signed
    assert (await query_keys(alice.client, [bot.user_id]))["master_keys"] != \
        published["master_keys"]
    bot.stop()
