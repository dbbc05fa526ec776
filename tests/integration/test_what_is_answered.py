"""Which messages the bot answers: prefixes, `!help <command>`, the catch-up window after a
restart, and senders from servers that are not allowed."""

from __future__ import annotations

import asyncio

import pytest

from harness.bot import BotProcess
from tests.integration.test_foundation import ask, replies_to

pytestmark = pytest.mark.integration
CATCH_UP = 10  # seconds, for this test's bot


async def test_prefixes_help_catch_up_and_allowed_servers(synapse, make_client, tmp_path):
    bot = BotProcess(synapse, tmp_path / "bot", log_level="DEBUG",
                     bot={"catch_up": f"{CATCH_UP}s"}).start()
    await bot.ready()
    alice = await make_client("alice")
    room = await alice.create_encrypted_room(invite=[bot.user_id])
    await alice.wait_until_joined(room, bot.user_id)

    # `/` works as well as `!`, and `!help <command>` gives that command's usage
    done, _ = await ask(alice, room, bot, "/room setup workgroup Answers")
    assert "now set up as working group Answers" in done.body
    info, _ = await ask(alice, room, bot, "/room info")
    assert "Answers — working group" in info.body
    usage, _ = await ask(alice, room, bot, "!help vote")
    assert usage.body == ("• !vote <proposal> <agree|object|abstain> [<reason…>] — your "
                          "service's vote on a proposal")
    usage, _ = await ask(alice, room, bot, "/help meeting add")
    assert usage.body.startswith("• /meeting add <date> <time> <title…>")
    assert "!room setup" not in usage.body  # that command only, not the whole list

    # While the bot is down: one command older than the catch-up window when the bot is
    # back, one inside it. The old one is ignored (also after a further restart), the
    # recent one answered once.
    bot.stop()
    old = await alice.send_text(room, "!services")
    await asyncio.sleep(CATCH_UP + 2)
    recent = await alice.send_text(room, "!room info")
    bot.start()
    await bot.ready()
    await bot.wait_log(f"not answering {old}")
    again, _ = await ask(alice, room, bot, "!room info")
    assert "Answers — working group" in again.body
    assert len(replies_to(alice, room, recent, bot.user_id)) == 1
    bot.stop()
    bot.start()
    await bot.ready()
    await ask(alice, room, bot, "!help")
    assert replies_to(alice, room, old, bot.user_id) == []
    assert len(replies_to(alice, room, recent, bot.user_id)) == 1

    # commands from a server that is not allowed are ignored
    bot.stop()
    bot.configure("bot", allowed_servers=["coordination.example.org"])
    bot.start()
    await bot.ready()
    foreign = await alice.send_text(room, "!room info")
    await bot.wait_log(f"ignoring {foreign} from {alice.user_id}: server not allowed")
    await asyncio.sleep(3)  # long enough for a reply the bot would have sent
    bot.stop()
    assert replies_to(alice, room, foreign, bot.user_id) == []
    assert "not answering" not in bot.new_log()  # seen and left alone, not just too old
