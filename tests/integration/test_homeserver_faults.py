"""Homeserver faults while the bot sends: answers lost on the way back, the homeserver killed
in the middle of a burst. The homeserver keeps one message per transaction id, so whatever the
bot sends again is stored once: no reply twice, none lost."""

from __future__ import annotations

import asyncio
import signal

import pytest

from harness.bot import BotProcess
from harness.client import is_reply_to
from harness.proxy import SEND, LosingProxy
from harness.seen import replies
from tests.integration.test_foundation import ask

pytestmark = pytest.mark.integration


def is_reply(method: str, path: str) -> bool:
    return method == "PUT" and "/send/m.room.encrypted/" in path  # all of them, encrypted


async def until(condition, what: str, timeout: float = 60) -> None:
    for _ in range(int(timeout / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never: {what}")


@pytest.fixture
async def proxy(synapse):
    losing = LosingProxy(synapse.base_url)
    losing.url = await losing.start()
    yield losing
    await losing.close()


async def setup(synapse, make_client, tmp_path, proxy):
    bot = BotProcess(synapse, tmp_path / "bot", homeserver=proxy.url,
                     bot={"rate_limit_per_minute": 0}).start()
    await bot.ready()
    alice = await make_client("alice")
    room = await alice.create_encrypted_room(invite=[bot.user_id])
    await alice.wait_until_joined(room, bot.user_id)
    await ask(alice, room, bot, "!room setup workgroup Faults")
    return bot, alice, room


def stored_once(bot: BotProcess, proxy: LosingProxy, answers: list) -> None:
    """Each message whose answer was lost reached alice once, and the bot knows it as that
    event: it sent it again under the same transaction id (the homeserver stored it once),
    or its next sync showed it with that transaction id and it was marked sent from there.
    Nothing went out under a transaction id the outbox does not hold."""
    rows = {txn: (event_id, sent) for txn, event_id, sent in
            bot.sql("SELECT txn_id, event_id, sent_at FROM outbox")}
    lost = {SEND.search(path)["txn"] for path in proxy.lost}  # a retry may be lost again
    assert all(rows[txn][1] is not None for txn in lost)
    assert {rows[txn][0] for txn in lost} <= {a.event_id for a in answers}
    assert set(proxy.sends()) <= set(rows), "a message went out under an unknown transaction id"


async def test_sends_whose_answers_are_lost_are_stored_once(synapse, make_client, tmp_path,
                                                             proxy):
    bot, alice, room = await setup(synapse, make_client, tmp_path, proxy)
    # the next three replies reach the homeserver, and the bot never hears that they did
    proxy.lose_answers(is_reply, times=3)
    asked = [await alice.send_text(room, "!room info") for _ in range(3)]
    answers = [await alice.wait_for_message(room, is_reply_to(event_id), sender=bot.user_id,
                                            timeout=60) for event_id in asked]
    assert len(proxy.lost) == 3

    # a lost answer, and the bot killed before it hears anything more: after the restart the
    # message is still in the outbox, under the same transaction id
    proxy.lose_answers(is_reply, times=1)
    last = await alice.send_text(room, "!services")
    await until(lambda: len(proxy.lost) == 4, "the fourth answer lost")
    bot.kill()
    bot.start()
    await bot.ready()
    answers.append(await alice.wait_for_message(room, is_reply_to(last), sender=bot.user_id,
                                                timeout=60))
    await bot.all_sent()
    await ask(alice, room, bot, "!help")  # what the bot sent before has reached alice
    for event_id in [*asked, last]:
        assert len(replies(alice, room, bot.user_id, event_id)) == 1, event_id
    stored_once(bot, proxy, answers)
    bot.stop()


async def test_homeserver_killed_in_a_burst_of_sends(synapse, make_client, tmp_path, proxy):
    bot, alice, room = await setup(synapse, make_client, tmp_path, proxy)
    bot.proc.send_signal(signal.SIGSTOP)  # the burst reaches the bot at once
    try:
        asked = [await alice.send_text(room, "!room info" if n % 2 else "!services")
                 for n in range(20)]
    finally:
        bot.proc.send_signal(signal.SIGCONT)
    before = len(proxy.sends())
    # a few replies are through, the rest on the way
    await until(lambda: len(proxy.sends()) >= before + 4, "four replies through")
    through = len(set(proxy.sends()[before:]))
    await asyncio.to_thread(synapse.restart, hard=True, downtime=2)
    assert through < len(asked), "the burst was over before the homeserver was killed"
    # the answers still on their way go out once the homeserver is back: all of them, not
    # one per growing pause
    await alice.wait_until(lambda: all(replies(alice, room, bot.user_id, e) for e in asked),
                           timeout=60, what="every answer after the homeserver came back")
    await bot.all_sent()
    await ask(alice, room, bot, "!help")
    counts = [len(replies(alice, room, bot.user_id, e)) for e in asked]
    assert counts == [1] * len(asked)
    assert bot.proc.poll() is None
    bot.stop()
