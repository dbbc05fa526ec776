"""A vote counts by when it was cast, not by when the bot got round to it: votes cast before
a proposal's deadline while the bot was down, or stalled, count once it is back, and the
outcome takes them into account."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta

import pytest

from harness.bot import BotProcess
from harness.client import is_reply_to
from harness.seen import answer_poll, outcomes, poll_starts, state_of, votes_on_record
from tests.integration.test_foundation import ask

pytestmark = pytest.mark.integration
SERVICES = ("Police", "OCAM", "Parquet")


async def taskforce(synapse, make_client, tmp_path):
    bot = BotProcess(synapse, tmp_path / "bot").start()
    await bot.ready()
    members = [await make_client(n) for n in ("police", "ocam", "parquet")]
    chair = members[0]
    room = await chair.create_encrypted_room(invite=[bot.user_id] +
                                             [c.user_id for c in members[1:]])
    await chair.wait_until_joined(room, bot.user_id)
    for c in members[1:]:
        await c.join(room)
        await chair.wait_until_joined(room, c.user_id)
    await ask(chair, room, bot, "!room setup tfl Deadlines")
    for c, service in zip(members, SERVICES, strict=True):
        await ask(chair, room, bot, f"!service {c.user_id} {service}")
    return bot, room, members


async def open_until(bot, chair, room, number: int, seconds: float) -> tuple[str, datetime]:
    """P<number>, opened now, closing in `seconds`; returns its poll and its deadline."""
    await ask(chair, room, bot, f"!propose Decision {number} --deadline 10m")
    await chair.wait_until(lambda: poll_starts(chair, room, bot.user_id, number))
    deadline = datetime.now(UTC) + timedelta(seconds=seconds)
    bot.move_deadline(number, deadline)
    return poll_starts(chair, room, bot.user_id, number)[0].event_id, deadline


async def until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


async def test_votes_cast_before_the_deadline_count_after_the_bot_is_back(
        synapse, make_client, tmp_path):
    bot, room, members = await taskforce(synapse, make_client, tmp_path)
    for number, away in enumerate(("down", "stalled"), 1):
        await before_the_deadline_while(away, number, bot, room, members)
    bot.stop()


async def before_the_deadline_while(away: str, n: int, bot, room, members) -> None:
    police, ocam, parquet = members
    poll, deadline = await open_until(bot, police, room, n, 8)
    await ask(police, room, bot, f"!vote P{n} object the file is incomplete")
    if away == "down":
        bot.stop()
    else:  # e.g. the host is overloaded: the process does not run for a while
        bot.proc.send_signal(signal.SIGSTOP)
    try:
        # before the deadline, all three change or cast their votes
        late = await police.send_text(room, f"!vote P{n} agree")
        await ocam.send_text(room, f"!vote P{n} agree")
        await answer_poll(parquet, room, poll, "agree")
        assert datetime.now(UTC) < deadline
        await until(deadline + timedelta(seconds=2))
    finally:
        if away == "down":
            bot.start()
        else:
            bot.proc.send_signal(signal.SIGCONT)
    answer = await police.wait_for_message(room, is_reply_to(late), sender=bot.user_id,
                                           timeout=60)
    assert f"Police votes agree on P{n}" in answer.body, away
    await police.wait_until(lambda: outcomes(police, room, bot.user_id, n))
    assert outcomes(police, room, bot.user_id, n) == ["ADOPTED"], away
    status, _ = await ask(police, room, bot, f"!proposal P{n}")
    assert state_of(status.body) == "adopted", away
    assert votes_on_record(status.body) == {s: ("agree", None) for s in SERVICES}, away
