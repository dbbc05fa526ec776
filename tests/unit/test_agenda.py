from __future__ import annotations

from datetime import UTC, datetime

from tests.unit.reminder_support import posted, run_clock

CHAIR, COORD = "@chair:example.org", "@coord:example.org"
ALICE, BOB = "@alice:example.org", "@bob:example.org"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_items_in_order_with_presenters_and_total_time(chat):
    chat.setup()
    assert "There is no meeting to come" in chat.send(ALICE, "!agenda add Budget")
    chat.send(COORD, "!meeting add 2026-12-03 14:00 Monthly --duration 1h")
    text = chat.send(ALICE, "!agenda add Budget 2027 --minutes 30 --presenter @bob:example.org")
    assert "Item A1 added to the agenda of M1 — Monthly, Thursday 3 December 2026, 14:00, " \
           "as number 1." in text
    chat.send(BOB, "!agenda add Cases --minutes 40")
    chat.send(ALICE, "!agenda add Any other business")
    lines = chat.send(BOB, "!agenda").splitlines()
    assert lines[0] == "Agenda of M1 — Monthly, Thursday 3 December 2026, 14:00"
    assert lines[1:4] == ["1. A1 Budget 2027 — presented by @bob:example.org — 30 min",
                          "2. A2 Cases — 40 min", "3. A3 Any other business"]
    assert "Total time: 70 min; the meeting lasts 60 min." in lines
    assert "Items without an estimate: 1." in lines
    assert "Warning: the items take 10 min more than the meeting lasts." in lines
    assert "The agenda closes Tuesday 1 December 2026, 14:00." in lines

    assert "needs the role coordinator" in chat.send(ALICE, "!agenda move A2 1")
    assert "is now number 1" in chat.send(COORD, "!agenda move A2 1")
    assert "4 is not a position of this agenda: it has 3 items." in chat.send(
        COORD, "!agenda move A2 4")
    assert "Only its author or a coordinator can remove A1." in chat.send(
        BOB, "!agenda remove A1")
    assert "Item A1 (Budget 2027) removed" in chat.send(ALICE, "!agenda remove A1")
    lines = chat.send(BOB, "!agenda").splitlines()
    assert lines[1:3] == ["1. A2 Cases — 40 min", "2. A3 Any other business"]
    assert "There is no agenda item A9 in this room." in chat.send(COORD, "!agenda remove A9")


def test_bad_input_changes_nothing(chat):
    chat.setup()
    chat.send(COORD, "!meeting add 2026-12-03 14:00 Monthly")
    cases = {
        "!agenda add": "Missing argument <title>",
        "!agenda add X --minutes 0": "is not a whole number from 1 to 600",
        "!agenda add X --presenter bob": "is not a Matrix user id",
        "!agenda add X --presenter @zed:example.org": "is not a member of this room",
        "!agenda add X --meeting M7": "There is no meeting M7 in this room",
        "!agenda add X --date 2026-12-03": "Say which meeting with --meeting",
        "!agenda add X --meeting M1 --date 2026-12-04": "has no occurrence on",
        "!agenda carry everything": "is not an id like A7",
    }
    for command, expected in cases.items():
        text = chat.send(COORD, command)
        assert expected in text, (command, text)
    assert "No agenda items yet." in chat.send(ALICE, "!agenda --meeting m1")
    chat.send(CHAIR, "!role @obs:example.org observer")
    assert "Observers can read but not act" in chat.send("@obs:example.org", "!agenda add X")


def test_deadline_call_final_agenda_once_and_late_items(any_db_chat):
    chat = any_db_chat
    chat.setup()
    chat.send(COORD, "!meeting add 2026-11-30 10:00 Taskforce")  # closes Sat 28th 10:00
    chat.send(ALICE, "!agenda add Radicalisation trends --minutes 20")
    chat.now = at(2026, 11, 27, 9, 0)  # a day before the deadline
    assert run_clock(chat) == 1
    [call] = posted(chat, "Call for agenda items")
    assert "Call for agenda items for M1 — Taskforce, Monday 30 November 2026, 10:00" in call
    assert "1. A1 Radicalisation trends — 20 min" in call
    assert "The agenda closes Saturday 28 November 2026, 10:00." in call
    chat.send(BOB, "!agenda add Prison releases")
    chat.now = at(2026, 11, 28, 9, 0)
    assert run_clock(chat) == 1
    assert run_clock(chat) == 0
    [final] = posted(chat, "Final agenda")
    assert "1. A1 Radicalisation trends — 20 min\n2. A2 Prison releases" in final
    assert "The agenda is closed" in final and "late" not in final.split("\n")[0]
    text = chat.send(ALICE, "!agenda add Too late")
    assert "The agenda of M1 of Monday 30 November 2026, 10:00 closed Saturday 28 November " \
           "2026, 10:00: only a coordinator can still add items." in text
    text = chat.send(COORD, "!agenda add Urgent case")
    assert "added" in text and "It is marked late" in text
    assert "3. A3 Urgent case (late)" in chat.send(ALICE, "!agenda")
    chat.now = at(2026, 11, 29, 9, 0)  # the 1 day reminder carries the agenda so far
    assert run_clock(chat) == 1
    [reminder] = posted(chat, "Reminder:")
    assert "Agenda so far:" in reminder and "3. A3 Urgent case (late)" in reminder
    assert len(posted(chat, "Final agenda")) == 1


def test_meeting_added_after_its_deadline_gets_no_final_agenda(chat):
    chat.setup()
    text = chat.send(COORD, "!meeting add 2026-11-26 10:00 Crisis meeting")
    assert "agenda deadline has already passed: there will be no final agenda post" in text
    for hour in (9, 10, 11, 12):
        chat.now = at(2026, 11, 25, hour, 30)
        run_clock(chat)
    chat.now = at(2026, 11, 26, 8, 59)
    run_clock(chat)
    assert posted(chat, "Final agenda") == [] and posted(chat, "Call for") == []
    assert "marked late" in chat.send(COORD, "!agenda add Situation report")


def test_moving_and_cancelling_an_occurrence_takes_its_agenda(chat):
    chat.setup()
    chat.send(COORD, "!meeting add 2026-12-03 10:00 Weekly --repeat weekly")
    chat.send(ALICE, "!agenda add Local overview")
    chat.send(COORD, "!meeting move M1 2026-12-04 15:00 --date 2026-12-03")
    text = chat.send(ALICE, "!agenda")
    assert "Friday 4 December 2026, 15:00" in text and "A1 Local overview" in text
    text = chat.send(COORD, "!meeting cancel M1 --date 2026-12-04")
    assert "Its agenda (1 item) is cancelled with it" in text
    assert "No agenda items yet." in chat.send(ALICE, "!agenda")  # now the 10th
    assert "Carried 1 item to the agenda of M1 — Weekly, Thursday 10 December 2026, 10:00: " \
           "A1." in chat.send(COORD, "!agenda carry all")
    assert "1. A1 Local overview (carried over)" in chat.send(ALICE, "!agenda")


def test_carry_untreated_items_of_a_past_occurrence(chat):
    chat.setup()
    chat.send(COORD, "!meeting add 2026-11-26 10:00 Weekly --repeat weekly")
    chat.send(COORD, "!agenda add Treated item")
    chat.send(COORD, "!agenda add Postponed item")
    assert "is on a meeting to come" in chat.send(COORD, "!agenda carry A2")
    chat.now = at(2026, 11, 26, 12, 0)
    assert "A1 (Treated item) is marked as treated" in chat.send(COORD, "!agenda done A1")
    assert "needs the role coordinator" in chat.send(ALICE, "!agenda carry all")
    text = chat.send(COORD, "!agenda carry all")
    assert "Carried 1 item to the agenda of M1 — Weekly, Thursday 3 December 2026" in text
    assert "1. A2 Postponed item (carried over)" in chat.send(ALICE, "!agenda")
    assert "No untreated items of a past or cancelled meeting" in chat.send(
        COORD, "!agenda carry all")
    assert "was treated; there is nothing to carry" in chat.send(COORD, "!agenda carry A1")


def test_actions_and_their_due_date_reminder(chat):
    chat.setup()
    text = chat.send(COORD, "!action @bob:example.org Send the report --due 2026-11-27")
    assert "Action T1 for @bob:example.org: Send the report" in text
    assert "Due Fri 27 Nov 2026." in text and chat.last.reply.mentions == (BOB,)
    assert "is in the past" in chat.send(COORD, "!action @bob:example.org X --due 2026-11-01")
    assert "not a member" in chat.send(COORD, "!action @zed:example.org X")
    assert "needs the role coordinator" in chat.send(ALICE, "!action @bob:example.org X")
    chat.send(COORD, "!action @alice:example.org Draft the feedback sheet")
    text = chat.send(BOB, "!actions")
    assert "T1 @bob:example.org: Send the report (due Fri 27 Nov 2026)" in text
    assert "T2 @alice:example.org: Draft the feedback sheet" in text
    chat.now = at(2026, 11, 27, 8, 0)  # 09:00 in Brussels on the due date
    assert run_clock(chat) == 1
    assert run_clock(chat) == 0
    [reminder] = posted(chat, "@bob:example.org, your action")
    assert "your action T1 is due Fri 27 Nov 2026: Send the report" in reminder
    assert "Only its owner or a coordinator can mark T1 as done." in chat.send(
        ALICE, "!action done T1")
    assert "Action T1 is done: Send the report" in chat.send(BOB, "!action done T1")
    assert "already done" in chat.send(BOB, "!action done T1")
    assert "There is no action T9 in this room." in chat.send(BOB, "!action done T9")
    assert "T1 @bob:example.org: Send the report (done)" in chat.send(BOB, "!actions done")
    chat.now = at(2026, 11, 28, 8, 0)
    chat.send(COORD, "!meeting add 2026-11-30 10:00 Taskforce")
    chat.now = at(2026, 11, 29, 9, 0)
    run_clock(chat)
    [meeting_reminder] = posted(chat, "Reminder:")
    assert "Open actions:" in meeting_reminder
    assert "T2 @alice:example.org: Draft the feedback sheet" in meeting_reminder
    assert "T1" not in meeting_reminder
