"""Every command × role × room kind, checked against the SPEC's "who" column.

A refused attempt is answered with its reason and changes nothing in the database.
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from tests.unit.conftest import Chat

ROLES = {  # role -> the user who holds it in the prepared room
    "chair": "@chair:example.org",
    "coordinator": "@coord:example.org",
    "member": "@alice:example.org",
    "observer": "@obs:example.org",
}
ORDER = ["observer", "member", "coordinator", "chair"]
REFUSALS = ("needs the role", "Observers can read but not act", "Only a room admin",
            "is only available in rooms of kind", "Only its proposer or a chair",
            "only its author or a coordinator", "only its owner or a coordinator")

# (command as typed, lowest role that may run it, what an allowed user is told, whether it
# changes the database) — from SPEC.md
MATRIX = [
    ("!help", "observer", "Commands you may run here:", False),
    ("!room info", "member", "Services: OCAM, Parquet, Police, VSSE", False),
    ("!room set language nl", "chair", "Taal ingesteld op nl.", True),
    ("!room set timezone UTC", "chair", "Time zone set to UTC.", True),
    ("!room set reminders 7d,1h", "chair", "Reminders will go out 1w,1h before each meeting",
     True),
    ("!room set agenda-deadline 3d", "chair", "The agenda now closes 3d before each meeting",
     True),
    ("!role @bob:example.org coordinator", "chair",
     "@bob:example.org is now coordinator in this room.", True),
    ("!service @bob:example.org Parquet", "coordinator",
     "@bob:example.org represents Parquet in this room.", True),
    ("!services", "member", "Police: @alice:example.org", False),
    ("!meeting add 2027-03-04 14:00 Taskforce --duration 2h", "coordinator",
     "Meeting M2 scheduled: Taskforce.", True),
    ("!meeting list", "member", "M1 Thursday 7 January 2027, 14:00 — Monthly", False),
    ("!meeting cancel M1 --date 2027-01-07", "coordinator",
     "Meeting M1 (Monthly) of Thursday 7 January 2027, 14:00 is cancelled.", True),
    ("!meeting move M1 2027-01-08 10:00 --date 2027-01-07", "coordinator",
     "to Friday 8 January 2027, 10:00.", True),
    ("!meeting ics M1", "member", "Calendar file of meeting M1 (Monthly).", False),
    ("!rsvp M1 yes", "member", "— yes for M1 (Monthly) of Thursday 7 January 2027", True),
    ("!meeting attendees M1", "member", "Police — @alice:example.org: no answer", False),
    ("!propose Feedback sheet to the police", "member",
     "Proposal P2 is open until Mon 30 Nov 2026, 10:00: Feedback sheet to the police", True),
    ("!jib insert TFL-BXL-2026-0042 Follow-up agreed in the last meeting", "member",
     "Proposal P2 is open until Mon 30 Nov 2026, 10:00: insert case TFL-BXL-2026-0042 into "
     "the JIB", True),
    ("!proposal P1", "member", "P1 — Shared sheet", False),
    ("!proposals open", "member", "P1 — Shared sheet — until Mon 30 Nov 2026, 10:00, 0/4",
     False),
]


def prepared(tmp_path, kind: str = "tfl") -> Chat:
    chat = Chat(tmp_path, rate_limit_per_minute=0)
    chat.setup(kind, "Body")
    chat.send("@chair:example.org", "!role @obs:example.org observer")
    for user, service in (("@alice:example.org", "Police"), ("@coord:example.org", "OCAM"),
                          ("@chair:example.org", "Parquet"), ("@obs:example.org", "VSSE")):
        chat.send("@chair:example.org", f"!service {user} {service}")
    assert "M1" in chat.send("@coord:example.org",
                             "!meeting add 2027-01-07 14:00 Monthly --repeat monthly")
    assert "P1" in chat.send("@alice:example.org", "!propose Shared sheet --deadline 5d")
    return chat


def snapshot(chat: Chat) -> dict:
    """Every row of every table the bot keeps, but its own bookkeeping of events and sends."""
    def read(s):
        names = [n for n in inspect(s.connection()).get_table_names()
                 if n not in ("processed_events", "outbox", "alembic_version", "bot_state",
                              "room_members_seen")]
        return {n: sorted(map(repr, s.execute(text(f'SELECT * FROM "{n}"')).all()))
                for n in names}
    return chat.db.call(read)


def check(chat: Chat, command: str, role: str, allowed: bool, done: str = "",
          writes: bool = False) -> None:
    """Refused: the reason, and nothing changed. Allowed: what the command says it did
    (`done`), and the database changed exactly when the command writes."""
    before = snapshot(chat)
    reply = chat.send(ROLES[role], command)
    assert reply is not None, (command, role)
    refused = any(r in reply for r in REFUSALS)
    if allowed:
        assert not refused, (command, role, reply)
        assert done in reply, (command, role, reply)
        assert (snapshot(chat) != before) == writes, (command, role, "writes" if writes
                                                      else "reads only", reply)
    else:
        assert refused, (command, role, reply)
        assert snapshot(chat) == before, (command, role, "changed something")


@pytest.mark.parametrize("command, lowest, done, writes", MATRIX)
def test_each_command_for_each_role(tmp_path, command, lowest, done, writes):
    for role in ORDER:
        chat = prepared(tmp_path / role)
        check(chat, command, role, ORDER.index(role) >= ORDER.index(lowest), done, writes)
        chat.db.close()


@pytest.mark.parametrize("kind", ["csil-r", "tfl", "tfn", "workgroup", "platform"])
def test_room_kinds(tmp_path, kind):
    chat = prepared(tmp_path, kind)
    check(chat, "!jib remove TFL-BXL-2026-0042 No longer followed", "member",
          kind in ("tfl", "tfn"), "remove case TFL-BXL-2026-0042 from the JIB", True)
    p = "P3" if kind in ("tfl", "tfn") else "P2"
    check(chat, "!propose Consensus on the feedback sheet", "member", True,
          f"Proposal {p} is open", True)
    chat.db.close()


def test_votes_need_a_service_and_a_role(tmp_path):
    chat = prepared(tmp_path)
    check(chat, "!vote P1 agree", "observer", False)
    before = snapshot(chat)
    assert "service" in chat.send("@bob:example.org", "!vote P1 agree")  # no service
    assert snapshot(chat) == before
    check(chat, "!vote P1 agree", "member", True, "Police votes agree on P1.", True)
    assert "Police: agree" in chat.send("@bob:example.org", "!proposal P1")


def test_withdrawal_by_the_proposer_or_a_chair_only(tmp_path):
    chat = prepared(tmp_path)
    check(chat, "!proposal withdraw P1", "coordinator", False)
    check(chat, "!proposal withdraw P1", "member", True, "P1 is withdrawn",
          True)  # alice proposed it
    assert "State: withdrawn" in chat.send("@bob:example.org", "!proposal P1")
    chat = prepared(tmp_path / "chair")
    check(chat, "!proposal withdraw P1", "chair", True, "P1 is withdrawn", True)


def test_room_setup_needs_power_100_or_a_bot_admin(tmp_path):
    chat = Chat(tmp_path)
    for user in ("@coord:example.org", "@alice:example.org"):
        assert "Only a room admin" in chat.send(user, "!room setup tfl X")
    assert "set up" in chat.send("@admin:example.org", "!room setup tfl X")
    assert "X — local taskforce" in chat.send("@bob:example.org", "!room info")


def test_non_members_are_ignored(tmp_path):
    chat = prepared(tmp_path)
    before = snapshot(chat)
    for command, *_ in MATRIX:
        assert chat.send("@stranger:example.org", command) is None
    assert snapshot(chat) == before


def test_attendance_and_minutes_are_for_coordinators(tmp_path):
    from datetime import UTC, datetime

    for role in ORDER:
        chat = prepared(tmp_path / role)
        assert "M2" in chat.send("@coord:example.org",
                                 "!meeting add 2026-11-25 11:00 Today --duration 2h")
        chat.now = datetime(2026, 11, 25, 10, 5, tzinfo=UTC)  # during the meeting
        allowed = ORDER.index(role) >= ORDER.index("coordinator")
        check(chat, "!meeting present M2 @alice:example.org", role, allowed,
              "Present at M2 (Today)", True)
        check(chat, "!meeting absent M2 @alice:example.org", role, allowed,
              "Absent from M2 (Today)", True)
        check(chat, "!minutes M2", role, allowed, "Minutes of M2 — Today", True)  # audited
        check(chat, "!meeting attendees M2", role, role != "observer",
              "Police — @alice:example.org: no answer", False)
        chat.db.close()
