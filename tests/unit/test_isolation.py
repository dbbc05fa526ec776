"""Nothing of room A shows in room B, not even through ids."""

from __future__ import annotations

ROOM_A, ROOM_B = "!a:example.org", "!b:example.org"
SECRET = "Zyxwv-operation"


def test_room_a_content_is_invisible_from_room_b(chat):
    chat.setup("tfl", "Taskforce A", room=ROOM_A)
    chat.setup("tfl", "Taskforce B", room=ROOM_B)
    for room in (ROOM_A, ROOM_B):
        chat.send("@coord:example.org", "!service @alice:example.org Police", room)
    chat.send("@coord:example.org", f"!meeting add 2027-02-04 10:00 {SECRET} meeting", ROOM_A)
    chat.send("@alice:example.org", f"!propose {SECRET} proposal", ROOM_A)
    chat.send("@alice:example.org", "!vote P1 object Not in our mandate", ROOM_A)

    unknown_alike = {}
    for command in ("!meeting list", "!meeting ics M1", "!meeting attendees M1",
                    "!rsvp M1 yes", "!meeting cancel M1", "!proposal P1", "!proposals",
                    "!proposals closed", "!vote P1 agree", "!proposal withdraw P1",
                    "!services", "!room info"):
        reply = chat.send("@coord:example.org", command, ROOM_B) or ""
        assert SECRET not in reply and "Taskforce A" not in reply, (command, reply)
        assert "Not in our mandate" not in reply
        unknown_alike[command] = reply
    # an id of room A is answered exactly like an id that exists nowhere
    for command in ("!meeting ics M1", "!proposal P1", "!vote P1 agree"):
        nowhere = chat.send("@coord:example.org", command.replace("1", "999"), ROOM_B)
        assert unknown_alike[command] == nowhere.replace("999", "1"), command
    # and room A still has all of it
    assert SECRET in chat.send("@alice:example.org", "!proposal P1", ROOM_A)
