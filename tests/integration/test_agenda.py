"""The agenda from real encrypted clients: order, the final agenda once at its deadline,
members refused afterwards, items carried to the next occurrence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from harness.bot import BotProcess
from tests.integration.test_meetings import ask

pytestmark = pytest.mark.integration


async def test_agenda_final_post_refusal_and_carry(synapse, make_client, tmp_path):
    bot = BotProcess(synapse, tmp_path / "agenda").start()
    try:
        await bot.ready()
        alice = await make_client("alice")
        bob = await make_client("bob")
        room = await alice.create_encrypted_room(invite=[bot.user_id, bob.user_id])
        await alice.wait_until_joined(room, bot.user_id)
        await bob.join(room)
        await alice.wait_until_joined(room, bob.user_id)
        assert "now set up" in (await ask(alice, room, bot, "!room setup tfl TFL")).body
        await ask(alice, room, bot, "!room set agenda-deadline 1m")
        added = await ask(alice, room, bot, "!meeting add 2099-06-01 10:00 Weekly "
                                            "--repeat weekly")
        assert "Meeting M1 scheduled" in added.body

        # while the bot is down, the meeting comes to start in 75 s: its agenda closes in 15 s
        bot.stop()
        start = datetime.now(UTC).astimezone(ZoneInfo("Europe/Brussels")) + \
            timedelta(seconds=75)
        bot.move_meeting("Weekly", start)
        bot.start()
        await bot.ready()

        first = await ask(alice, room, bot, "!agenda add Local overview --minutes 20")
        assert "Item A1 added" in first.body
        second = await ask(bob, room, bot, "!agenda add Prison releases --minutes 15")
        assert "Item A2 added" in second.body and "as number 2" in second.body
        agenda = await ask(bob, room, bot, "!agenda")
        assert "1. A1 Local overview — 20 min\n2. A2 Prison releases — 15 min" in agenda.body

        final = await alice.wait_for_message(
            room, lambda e: e.body.startswith("Final agenda of M1"), sender=bot.user_id,
            timeout=120)
        assert "1. A1 Local overview — 20 min\n2. A2 Prison releases — 15 min" in final.body
        refused = await ask(bob, room, bot, "!agenda add One more thing")
        assert "only a coordinator can still add items" in refused.body

        cancelled = await ask(alice, room, bot, f"!meeting cancel M1 --date {start:%Y-%m-%d}")
        assert "Its agenda (2 items) is cancelled with it" in cancelled.body
        carried = await ask(alice, room, bot, "!agenda carry all")
        next_week = start + timedelta(days=7)
        assert f"Carried 2 items to the agenda of M1 — Weekly, {next_week:%A} " \
               f"{next_week.day} {next_week:%B %Y, %H:%M}: A1, A2." in carried.body
        agenda = await ask(bob, room, bot, "!agenda")
        assert "1. A1 Local overview — 20 min (carried over)" in agenda.body
        finals = [e for e in alice.messages(room) if e.sender == bot.user_id
                  and e.body.startswith("Final agenda")]
        assert len(finals) == 1
    finally:
        bot.stop()
