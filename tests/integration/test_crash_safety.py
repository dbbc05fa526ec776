"""SIGKILL the bot at random moments during a vote storm (and, heavy, a burst of reminders).

Every vote cast is counted (each service's last vote is the one on record), every command is
answered exactly once, every due reminder is sent exactly once, no proposal closes twice.
CI runs 3 cycles; COORDBOT_HEAVY=1 runs 20 cycles with reminders due during the storm.
"""

from __future__ import annotations

import asyncio
import os
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from harness.bot import BotProcess
from harness.client import is_reply_to
from tests.integration.test_foundation import ask, replies_to

pytestmark = pytest.mark.integration
HEAVY = os.environ.get("COORDBOT_HEAVY") == "1"
CYCLES = 20 if HEAVY else 3
SERVICES = ["Police", "OCAM", "Parquet", "VSSE"]  # VSSE never votes: proposals stay open


async def test_kills_during_a_vote_storm_lose_nothing(synapse, make_client, tmp_path):
    rng = random.Random(7)
    bot = BotProcess(synapse, tmp_path / "bot", bot={"rate_limit_per_minute": 0}).start()
    await bot.ready()
    chair = await make_client("chair")
    voters = [await make_client(name) for name in ("police", "ocam", "parquet")]
    silent = await make_client("vsse")
    room = await chair.create_encrypted_room(
        invite=[bot.user_id] + [c.user_id for c in (*voters, silent)])
    for c in (*voters, silent):
        await c.join(room)
    await chair.wait_until_joined(room, bot.user_id)
    for c in (*voters, silent):
        await chair.wait_until_joined(room, c.user_id)
    await ask(chair, room, bot, "!room setup tfl TFL Crash")
    for c, service in zip((*voters, silent), SERVICES, strict=True):
        await ask(chair, room, bot, f"!service {c.user_id} {service}")
    proposals = ["P1", "P2", "P3"]
    for n in proposals:
        await ask(chair, room, bot, f"!propose Decision {n} --deadline 5d")

    meetings: list[str] = []
    if HEAVY:
        await ask(chair, room, bot, "!room set reminders 1m,2m")
        start = datetime.now(ZoneInfo("Europe/Brussels")) + timedelta(minutes=4)
        for i in range(3):
            at = start + timedelta(minutes=i)
            title = f"Crash-meeting-{i}"
            await ask(chair, room, bot, f"!meeting add {at:%Y-%m-%d} {at:%H:%M} {title}")
            meetings.append(title)

    last: dict[tuple[str, str], str] = {}
    sent: list[str] = []

    async def storm(client, service: str, n: int) -> None:
        for _ in range(n):
            p = rng.choice(proposals)
            choice = rng.choice(["agree", "object because of the mandate", "abstain"])
            sent.append(await client.send_text(room, f"!vote {p} {choice}"))
            last[(p, service)] = choice.split()[0]

    for cycle in range(CYCLES):
        storm_task = asyncio.gather(*(storm(c, s, 3) for c, s in zip(voters, SERVICES,
                                                                       strict=False)))
        await asyncio.sleep(rng.uniform(0.0, 1.5))
        bot.kill()
        await storm_task
        bot.start()
        await bot.ready()
        if HEAVY and cycle % 4 == 3:
            await asyncio.sleep(rng.uniform(5, 15))  # let reminders fall due between kills

    async def all_answered() -> None:
        for event_id in sent:
            await chair.wait_for_message(
                room, is_reply_to(event_id), sender=bot.user_id, timeout=60)

    try:  # every vote is answered, once
        await asyncio.wait_for(all_answered(), 90)
    except (TimeoutError, AssertionError):
        missing = [e for e in sent if not replies_to(chair, room, e, bot.user_id)]
        log = bot.log()
        raise AssertionError(f"votes never answered: {missing}; in the bot's log: "
                             f"{[m for m in missing if m in log]}; undecryptable by the chair: "
                             f"{len(chair.undecryptable(room))}") from None
    answered_twice = [e for e in sent if len(replies_to(chair, room, e, bot.user_id)) != 1]
    assert not answered_twice

    counted = 0
    for p in proposals:
        status, _ = await ask(chair, room, bot, f"!proposal {p}")
        assert "State: open" in status.body  # VSSE never voted: nothing closed
        votes = status.body.split("Votes:")[1].split("Still to vote:")[0]
        for service in SERVICES[:3]:
            if (p, service) in last:
                assert f"{service}: {last[(p, service)]}" in votes, (p, service, status.body)
                counted += 1

    def bot_texts() -> list[str]:
        return [getattr(e, "body", "") for e in chair.messages(room) if e.sender == bot.user_id]

    reminders = 0
    if HEAVY:
        deadline = datetime.now(ZoneInfo("Europe/Brussels")) + timedelta(minutes=8)
        while datetime.now(ZoneInfo("Europe/Brussels")) < deadline:
            texts = bot_texts()
            reminders = sum("Reminder:" in t and any(m in t for m in meetings) for t in texts)
            if reminders >= 2 * len(meetings):
                break
            await asyncio.sleep(5)
        texts = bot_texts()
        for title in meetings:
            assert sum(f"— {title}" in t and "Reminder:" in t for t in texts) == 2, title
    outcomes = [e for e in chair.messages(room) if e.sender == bot.user_id and
                any(w in getattr(e, "body", "") for w in ("ADOPTED", "REJECTED", "NO CONSENSUS"))]
    assert outcomes == []  # nothing closed, so nothing announced (twice or at all)
    print(f"{CYCLES} kills: {len(sent)} votes cast, each answered once; {counted} "
          f"service votes checked on record; {reminders} reminders, each once")
    bot.stop()
