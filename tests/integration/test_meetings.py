"""Meetings from real encrypted clients: a reminder exactly once across a SIGKILL, .ics files."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from harness.bot import BotProcess
from harness.client import is_reply_to, replied_to

pytestmark = pytest.mark.integration


async def ask(client, room_id, bot, text, timeout=30):
    """Send a command, return the bot's decrypted reply to it."""
    event_id = await client.send_text(room_id, text)
    return await client.wait_for_message(
        room_id, is_reply_to(event_id),
        sender=bot.user_id, msgtypes=("m.notice",), timeout=timeout)


async def set_up_room(synapse, make_client, tmp_path, name):
    bot = BotProcess(synapse, tmp_path / name).start()
    await bot.ready()
    alice = await make_client("alice")
    room = await alice.create_encrypted_room(invite=[bot.user_id])
    await alice.wait_until_joined(room, bot.user_id)
    reply = await ask(alice, room, bot, "!room setup tfl TFL Brussels")
    assert "now set up" in reply.body
    return bot, alice, room


def reminders(client, room, bot):
    return [e for e in client.messages(room) if e.sender == bot.user_id
            and e.body.startswith("Reminder: ")]


async def test_reminder_exactly_once_across_sigkills(synapse, make_client, tmp_path):
    bot, alice, room = await set_up_room(synapse, make_client, tmp_path, "reminders")
    assert "1m before each meeting" in (await ask(alice, room, bot,
                                                  "!room set reminders 1m")).body
    added = await ask(alice, room, bot, "!meeting add 2099-06-01 10:00 Standup "
                                        "--place \"Room 2\"")
    assert "Meeting M1 scheduled: Standup." in added.body
    # while the bot is down, the meeting comes to start in 75 s: its reminder is due in 15 s
    bot.stop()
    start = datetime.now(ZoneInfo("Europe/Brussels")) + timedelta(seconds=75)
    bot.move_meeting("Standup", start)
    bot.start()
    await bot.ready()
    assert "Noted" in (await ask(alice, room, bot, "!rsvp M1 yes")).body

    bot.kill()  # planned, not yet reminded: the database alone knows what is due
    bot.start()
    await bot.ready()
    reminder = await alice.wait_for_message(
        room, lambda e: e.body.startswith("Reminder: M1"), sender=bot.user_id, timeout=120)
    received = datetime.now(UTC)
    due = start.astimezone(UTC).replace(microsecond=0) - timedelta(minutes=1)
    assert due - timedelta(seconds=1) <= received <= due + timedelta(seconds=15)
    assert f"When: {start:%A} {start.day} {start:%B %Y, %H:%M}" in reminder.body
    assert "Place: Room 2" in reminder.body
    assert "Answers so far: 1 yes, 0 no, 0 maybe." in reminder.body
    assert "late" not in reminder.body

    bot.kill()  # right after sending: a restart must not send it again
    bot.start()
    await bot.ready()
    await asyncio.sleep(3)
    listing = await ask(alice, room, bot, "!meeting list")
    assert "M1" in listing.body
    assert len(reminders(alice, room, bot)) == 1
    bot.stop()


async def test_ics_file_downloads_decrypts_and_parses(synapse, make_client, tmp_path):
    bot, alice, room = await set_up_room(synapse, make_client, tmp_path, "ics")
    await ask(alice, room, bot, "!meeting add 2030-03-20 10:00 Monthly TFL --repeat "
                                "FREQ=MONTHLY;BYDAY=3WE --place \"Town hall\" --duration 2h")
    await ask(alice, room, bot, "!meeting move M1 2030-04-18 14:00 --date 2030-04-17")
    request = await alice.send_text(room, "!meeting ics M1")
    file_event = await alice.wait_for_message(
        room, lambda e: e.source["content"].get("msgtype") == "m.file"
        and replied_to(e) == request, sender=bot.user_id, msgtypes=None)
    content = file_event.source["content"]
    assert content["body"] == "meeting-M1.ics" and "url" not in content  # encrypted file
    data = await alice.download_file(file_event)
    calendar = Calendar.from_ical(data)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Brussels"]
    master, moved = calendar.walk("VEVENT")
    assert str(master["SUMMARY"]) == "Monthly TFL" and str(master["LOCATION"]) == "Town hall"
    assert master["RRULE"]["BYDAY"] == ["3WE"] and master["SEQUENCE"] == 1
    assert moved["RECURRENCE-ID"].dt == datetime(2030, 4, 17, 10, tzinfo=ZoneInfo(
        "Europe/Brussels"))
    assert moved["DTSTART"].dt.hour == 14
    bot.stop()
