from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from tests.unit.reminder_support import next_due, posted, run_clock

REMINDERS = "meeting reminders"
COORD, ALICE, BOB = "@coord:example.org", "@alice:example.org", "@bob:example.org"


def test_add_and_list(chat):
    chat.setup()
    text = chat.send(COORD, '!meeting add 2026-12-03 14:00 Monthly TFL --place "Town hall" '
                            "--repeat monthly --duration 2h")
    assert "Meeting M1 scheduled: Monthly TFL." in text
    assert "Thursday 3 December 2026, 14:00" in text and "every month" in text
    assert "Place: Town hall" in text
    chat.send(COORD, "!meeting add 2026-12-01 09:30 Case review")
    listing = chat.send(ALICE, "!meeting list")
    lines = listing.splitlines()
    assert lines[1] == "• M2 Tuesday 1 December 2026, 09:30 — Case review"
    assert lines[2] == "• M1 Thursday 3 December 2026, 14:00 — Monthly TFL — Town hall"
    assert "Sunday 3 January 2027, 14:00" in listing  # the series goes on


def test_add_refuses_bad_input_and_changes_nothing(chat):
    chat.setup()
    cases = {
        "!meeting add 2026-11-20 14:00 Past": "is in the past",
        "!meeting add 2026-12-03 14:00 X --repeat FREQ=HOURLY": "repeat rule is not valid",
        "!meeting add 2026-12-03 14:00 X --repeat FREQ=DAILY;COUNT=2;UNTIL=20270101":
            "COUNT or UNTIL, not both",
        "!meeting add 2026-12-03 14:00 X --repeat FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30":
            "gives no meeting at all",
        "!meeting add 2026-12-03 14:00 X --duration 30h": "at most 24 hours",
        "!meeting add 2026-13-03 14:00 X": "is not a date",
        "!meeting add 2026-12-03 25:00 X": "is not a time",
        "!meeting add 2026-12-03 14:00": "Missing argument <title>",
    }
    for command, expected in cases.items():
        text = chat.send(COORD, command)
        assert expected in text, (command, text)
        assert "Usage: !meeting add <date> <time> <title…>" in text
    assert "No meetings to come" in chat.send(ALICE, "!meeting list")
    assert "needs the role coordinator" in chat.send(ALICE, "!meeting add 2026-12-03 14:00 X")
    assert "M1 scheduled" in chat.send(COORD, "!meeting add 2026-12-03 14:00 X")  # M1 unused


def test_unknown_and_foreign_ids_read_alike(chat):
    chat.setup()
    chat.setup(room="!other:example.org")
    chat.send(COORD, "!meeting add 2026-12-03 14:00 Elsewhere", room="!other:example.org")
    for command in ("!meeting ics M1", "!rsvp m1 yes", "!meeting cancel M1",
                    "!meeting attendees M1"):
        sender = COORD if "cancel" in command else ALICE
        assert "There is no meeting M1 in this room." in chat.send(sender, command)
    assert "is not an id like M7" in chat.send(ALICE, "!rsvp 1 yes")


def test_cancel_one_occurrence_then_the_series(chat):
    chat.setup()
    chat.send(COORD, "!meeting add 2026-12-02 10:00 Weekly --repeat weekly")
    text = chat.send(COORD, "!meeting cancel M1 --date 2026-12-09")
    assert "Meeting M1 (Weekly) of Wednesday 9 December 2026, 10:00 is cancelled." in text
    listing = chat.send(ALICE, "!meeting list")
    assert "9 December" not in listing and "16 December" in listing
    assert "has no occurrence on Thu 10 Dec 2026" in chat.send(
        COORD, "!meeting cancel M1 --date 2026-12-10")
    assert "cancelled, with all its occurrences" in chat.send(COORD, "!meeting cancel M1")
    assert "No meetings to come" in chat.send(ALICE, "!meeting list")
    assert "Meeting M1 is cancelled." in chat.send(ALICE, "!rsvp M1 yes")


def test_move_occurrence_and_one_off(chat):
    chat.setup()
    chat.send(COORD, "!meeting add 2026-12-02 10:00 Weekly --repeat weekly")
    assert "say which occurrence with --date" in chat.send(
        COORD, "!meeting move M1 2026-12-10 15:00")
    text = chat.send(COORD, "!meeting move M1 2026-12-10 15:00 --date 2026-12-09")
    assert ("moved from Wednesday 9 December 2026, 10:00 to Thursday 10 December 2026, 15:00"
            in text)
    assert "Thursday 10 December 2026, 15:00 — Weekly (moved)" in chat.send(
        ALICE, "!meeting list")
    assert "already takes place" in chat.send(
        COORD, "!meeting move M1 2026-12-16 10:00 --date 2026-12-23")
    assert "is in the past" in chat.send(COORD, "!meeting move M1 2026-11-01 10:00 --date "
                                                "2026-12-16")
    chat.send(COORD, "!meeting add 2026-12-05 10:00 One-off")
    assert "to Monday 7 December 2026, 11:00" in chat.send(
        COORD, "!meeting move M2 2026-12-07 11:00")
    assert "to Tuesday 8 December 2026, 11:00" in chat.send(
        COORD, "!meeting move M2 2026-12-08 11:00")  # again, by its original date


def test_dst_weekly_series_keeps_local_time(chat):
    """A Sunday series across both DST Sundays of 2026 stays at 10:00 in Brussels."""
    chat.setup()
    chat.now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    chat.send(COORD, "!meeting add 2026-03-22 10:00 Weekly --repeat weekly")
    listing = chat.send(ALICE, "!meeting list")
    for day in ("Sunday 22 March 2026, 10:00", "Sunday 29 March 2026, 10:00",
                "Sunday 5 April 2026, 10:00"):
        assert day in listing
    chat.now = datetime(2026, 10, 10, 8, 0, tzinfo=UTC)
    listing = chat.send(ALICE, "!meeting list")
    for day in ("Sunday 18 October 2026, 10:00", "Sunday 25 October 2026, 10:00",
                "Sunday 1 November 2026, 10:00"):
        assert day in listing
    chat.send("@chair:example.org", "!room set reminders 1h")
    chat.now = datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # 09:00 CET, an hour before
    assert run_clock(chat, REMINDERS) == 1
    assert "When: Sunday 25 October 2026, 10:00" in posted(chat, "Reminder:")[-1]
    ics = Calendar.from_ical(_ics_bytes(chat))
    master = ics.walk("VEVENT")[0]
    assert str(master["RRULE"].to_ical(), "ascii") == "FREQ=WEEKLY"
    assert master["DTSTART"].dt.hour == 10 and str(master["DTSTART"].dt.tzinfo) == \
        "Europe/Brussels"


def _ics_bytes(chat) -> bytes:
    text = chat.send(ALICE, "!meeting ics M1")
    assert "Calendar file of meeting M1" in text
    attachment = chat.last.reply.attachment
    assert attachment.filename == "meeting-M1.ics" and attachment.mimetype == "text/calendar"
    return attachment.data


def test_ics_sequence_rises_with_each_change(chat):
    chat.setup()
    chat.send(COORD, "!meeting add 2026-12-02 10:00 Weekly --repeat weekly --place Hall")
    first = Calendar.from_ical(_ics_bytes(chat)).walk("VEVENT")[0]
    assert first["SEQUENCE"] == 0 and str(first["LOCATION"]) == "Hall"
    chat.send(COORD, "!meeting cancel M1 --date 2026-12-09")
    chat.send(COORD, "!meeting move M1 2026-12-17 15:00 --date 2026-12-16")
    events = Calendar.from_ical(_ics_bytes(chat)).walk("VEVENT")
    assert {e["SEQUENCE"] for e in events} == {2} and len(events) == 2
    chat.send(COORD, "!meeting cancel M1")
    events = Calendar.from_ical(_ics_bytes(chat)).walk("VEVENT")
    assert all(str(e["STATUS"]) == "CANCELLED" and e["SEQUENCE"] == 3 for e in events)


def test_rsvp_and_attendees_per_service(chat):
    chat.setup()
    chat.send(COORD, "!service @alice:example.org Police")
    chat.send(COORD, "!service @bob:example.org OCAM")
    chat.send(COORD, "!meeting add 2026-12-02 10:00 Weekly --repeat weekly")
    text = chat.send(ALICE, "!rsvp M1 yes")
    assert "Noted: @alice:example.org — yes for M1 (Weekly) of Wednesday 2 December" in text
    assert "Answers so far: 1 yes, 0 no, 0 maybe." in text
    chat.send(BOB, "!rsvp M1 maybe")
    chat.send(BOB, "!rsvp M1 no")  # changes his answer
    chat.send(COORD, "!rsvp M1 yes --date 2026-12-09")
    assert "has no occurrence on Wed 25 Nov 2026" in chat.send(
        ALICE, "!rsvp M1 yes --date 2026-11-25")
    assert "is not one of: yes, no, maybe" in chat.send(ALICE, "!rsvp M1 perhaps")
    text = chat.send(ALICE, "!meeting attendees M1")
    assert "OCAM — @bob:example.org: no" in text
    assert "Police — @alice:example.org: yes" in text
    assert "Answers so far: 1 yes, 1 no, 0 maybe." in text
    assert "Not answered yet: @admin:example.org, @chair:example.org, @coord:example.org, " \
           "@obs:example.org" in text
    later = chat.send(ALICE, "!meeting attendees M1 --date 2026-12-09")
    assert "Without a service — @coord:example.org: yes" in later
    assert "Observers can read but not act" not in chat.send("@obs:example.org",
                                                             "!meeting list")
    chat.now = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    assert "M1 of Wed 2 Dec 2026 has already started" in chat.send(
        ALICE, "!rsvp M1 yes --date 2026-12-02")


def test_reminders_once_late_and_cancelled(any_db_chat):
    chat = any_db_chat
    chat.setup()
    chat.send("@chair:example.org", "!room set reminders 1d,1h")
    chat.send(COORD, "!meeting add 2026-12-02 10:00 Weekly --repeat weekly --place Hall")
    chat.send(ALICE, "!rsvp M1 yes")
    assert run_clock(chat, REMINDERS) == 0
    assert next_due(chat, REMINDERS) == chat.now + timedelta(hours=6)  # looks again later
    chat.now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    assert next_due(chat, REMINDERS) == chat.now
    assert run_clock(chat, REMINDERS) == 0
    assert next_due(chat, REMINDERS) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    chat.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # exactly 1 day before
    assert run_clock(chat, REMINDERS) == 1
    assert next_due(chat, REMINDERS) == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # a look
    assert run_clock(chat, REMINDERS) == 0  # a second run sends nothing more
    chat.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # the clock moved back
    assert run_clock(chat, REMINDERS) == 0
    [reminder] = posted(chat, "Reminder:")
    assert "Reminder: M1 — Weekly" in reminder
    assert "When: Wednesday 2 December 2026, 10:00" in reminder and "Place: Hall" in reminder
    assert "Answers so far: 1 yes, 0 no, 0 maybe." in reminder
    assert "Not answered yet: @admin:example.org, @bob:example.org" in reminder
    assert "late" not in reminder
    # the bot was down during the 1 h reminder: sent late while the meeting has not started
    chat.now = datetime(2026, 12, 2, 8, 50, tzinfo=UTC)
    assert run_clock(chat, REMINDERS) == 1
    assert "This reminder is late" in posted(chat, "Reminder:")[-1]
    # a cancelled occurrence gets none; down through the next one's reminders: skipped
    chat.send(COORD, "!meeting cancel M1 --date 2026-12-09")
    chat.now = datetime(2026, 12, 9, 8, 30, tzinfo=UTC)
    assert run_clock(chat, REMINDERS) == 0
    chat.now = datetime(2026, 12, 16, 9, 5, tzinfo=UTC)  # after the start of the 16th
    assert run_clock(chat, REMINDERS) == 0
    assert len(posted(chat, "Reminder:")) == 2


def test_reminder_not_before_the_meeting_existed_and_after_a_move(chat):
    chat.setup()
    chat.send("@chair:example.org", "!room set reminders 1d,1h")
    chat.send(COORD, "!meeting add 2026-11-25 20:00 Tonight")  # 1 d before was in the past
    chat.now = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    assert run_clock(chat, REMINDERS) == 1
    assert len(posted(chat, "Reminder:")) == 1
    chat.send(COORD, "!meeting move M1 2026-11-27 20:00")  # the 1 h reminder is due again
    chat.now = datetime(2026, 11, 26, 19, 0, tzinfo=UTC)
    assert run_clock(chat, REMINDERS) == 1
    chat.now = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert run_clock(chat, REMINDERS) == 1
    assert run_clock(chat, REMINDERS) == 0
    bodies = posted(chat, "Reminder:")
    assert len(bodies) == 3 and "Moved from Wednesday 25 November 2026, 20:00" in bodies[-1]


def test_new_reminder_offsets_apply_to_planned_meetings(chat):
    chat.setup()
    chat.send(COORD, "!meeting add 2026-11-26 10:00 Tomorrow")
    run_clock(chat, REMINDERS)
    assert next_due(chat, REMINDERS) > chat.now
    chat.send("@chair:example.org", "!room set reminders 20h")
    assert next_due(chat, REMINDERS) == chat.now  # planned again for the new offsets
    run_clock(chat, REMINDERS)
    assert next_due(chat, REMINDERS) == datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
