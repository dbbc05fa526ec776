"""Consensus proposals in an encrypted taskforce room, voted from real clients' polls."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.bot import BotProcess
from harness.client import is_reply_to

pytestmark = pytest.mark.integration

POLL_START = "org.matrix.msc3381.poll.start"
POLL_END = "org.matrix.msc3381.poll.end"
POLL_RESPONSE = "org.matrix.msc3381.poll.response"


def kind(ev) -> str:
    return ev.source.get("type", "")


def body(ev) -> str:
    return ev.source.get("content", {}).get("body", "")


async def ask(client, room, bot, text):
    """Send a command; return the plain text of the bot's reply to it."""
    event_id = await client.send_text(room, text)
    ev = await client.wait_for_message(
        room, is_reply_to(event_id),
        sender=bot.user_id, msgtypes=("m.notice",))
    return ev.body


async def answer_poll(client, room, start_id, choice):
    return await client.send_message(room, {
        "m.relates_to": {"rel_type": "m.reference", "event_id": start_id},
        POLL_RESPONSE: {"answers": [choice]},
    }, event_type=POLL_RESPONSE)


async def bot_says(client, room, bot, text, since=0):
    """The next message of the bot whose body contains `text`."""
    ev = await client.wait_for_message(room, lambda e: text in body(e), sender=bot.user_id,
                                       msgtypes=None, since=since)
    return ev


@pytest.fixture
def bots():
    """Bots started by a test, stopped however the test ends."""
    started: list[BotProcess] = []
    yield started
    for bot in started:
        bot.stop()


async def taskforce(synapse, make_client, tmp_path, bots, kind="tfl"):
    bot = BotProcess(synapse, tmp_path / "bot").start()
    bots.append(bot)
    await bot.ready()
    alice, bob, carol = [await make_client(n) for n in ("alice", "bob", "carol")]
    room = await alice.create_encrypted_room(invite=[bot.user_id, bob.user_id, carol.user_id])
    await alice.wait_until_joined(room, bot.user_id)
    for c in (bob, carol):
        await c.join(room)
        await alice.wait_until_joined(room, c.user_id)
    assert "now set up" in await ask(alice, room, bot, f"!room setup {kind} Taskforce")
    for c, service in ((alice, "Police"), (bob, "OCAM"), (carol, "Parquet")):
        assert service in await ask(alice, room, bot, f"!service {c.user_id} {service}")
    return bot, room, (alice, bob, carol)


async def test_votes_by_poll_and_command_restart_and_deadline(synapse, make_client, tmp_path,
                                                             bots):
    bot, room, (alice, bob, carol) = await taskforce(synapse, make_client, tmp_path, bots)

    # P1: two votes in the native poll, one by command -> adopted, and the poll ends
    assert "Proposal P1 is open" in await ask(alice, room, bot, "!propose Share the report")
    poll = await alice.wait_for_message(room, lambda e: kind(e) == POLL_START,
                                        sender=bot.user_id, msgtypes=None)
    question = poll.source["content"][POLL_START]
    assert [a["id"] for a in question["answers"]] == ["agree", "object", "abstain"]
    await answer_poll(alice, room, poll.event_id, "agree")
    await answer_poll(bob, room, poll.event_id, "abstain")
    await ask(carol, room, bot, "!vote P1 agree")
    outcome = await bot_says(alice, room, bot, "P1 ADOPTED")
    assert "Police: agree" in outcome.body and "OCAM: abstain" in outcome.body
    end = await bob.wait_for_message(room, lambda e: kind(e) == POLL_END, msgtypes=None)
    assert end.source["content"]["m.relates_to"]["event_id"] == poll.event_id

    # P2: an objection in the poll asks for its reason; given by command -> rejected
    await ask(bob, room, bot, "!propose Close the case file")
    poll2 = await alice.wait_for_message(room, lambda e: kind(e) == POLL_START and
                                         "P2" in body(e), sender=bot.user_id, msgtypes=None)
    await answer_poll(carol, room, poll2.event_id, "object")
    prompt = await bot_says(alice, room, bot, "your objection to P2")
    assert carol.user_id in prompt.source["content"]["m.mentions"]["user_ids"]
    assert "agree" in await ask(alice, room, bot, "!vote P2 agree")
    await ask(carol, room, bot, "!vote P2 object the risk assessment is pending")
    await answer_poll(bob, room, poll2.event_id, "agree")
    rejected = await bot_says(alice, room, bot, "P2 REJECTED")
    assert "Parquet: the risk assessment is pending" in rejected.body

    # P3: two services vote, the bot is killed; the votes survive, and at the deadline
    # (moved to the past while the bot is down) the missing service is named
    await ask(alice, room, bot, "!propose Renew the protocol --deadline 10m")
    poll3 = await alice.wait_for_message(room, lambda e: kind(e) == POLL_START and
                                         "P3" in body(e), sender=bot.user_id, msgtypes=None)
    await answer_poll(alice, room, poll3.event_id, "agree")
    await ask(bob, room, bot, "!vote P3 agree")
    status = await ask(carol, room, bot, "!proposal P3")
    assert "Police: agree" in status and "OCAM: agree" in status
    bot.kill()
    bot.move_deadline(3, datetime.now(UTC))  # after the votes, before the restart
    since = alice.cursor(room)
    bot.start()
    await bot.ready()
    closed = await bot_says(alice, room, bot, "P3: NO CONSENSUS", since=since)
    assert "No vote from: Parquet." in closed.body
    status = await ask(carol, room, bot, "!proposal P3")
    assert "Police: agree" in status and "OCAM: agree" in status and "no consensus" in status
    bot.stop()
    bodies = [body(e) for e in alice.messages(room) if e.sender == bot.user_id]
    for word in ("P1 ADOPTED", "P2 REJECTED", "P3: NO CONSENSUS"):
        assert sum(word in b for b in bodies) == 1


async def test_jib_is_refused_outside_taskforces(synapse, make_client, tmp_path, bots):
    bot, room, (alice, bob, _carol) = await taskforce(synapse, make_client, tmp_path, bots,
                                                       kind="csil-r")
    text = await ask(bob, room, bot, "!jib insert CSIL-2026-7 signals from school")
    assert "!jib is only available in rooms of kind tfl, tfn" in text
    text = await ask(bob, room, bot, "!propose Call jan@example.be about the feedback sheet")
    assert "Not recorded: the text contains an e-mail address" in text
    assert "jan@" not in text
    assert "No open proposals" in await ask(alice, room, bot, "!proposals")
