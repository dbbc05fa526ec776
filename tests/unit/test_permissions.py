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

# (command as typed, lowest role that may run it) — from SPEC.md
MATRIX = [
    ("!help", "observer"),
    ("!room info", "member"),
    ("!room set language nl", "chair"),
    ("!room set timezone UTC", "chair"),
    ("!room set reminders 1d,1h", "chair"),
    ("!room set agenda-deadline 3d", "chair"),
    ("!role @bob:example.org coordinator", "chair"),
    ("!service @bob:example.org Parquet", "coordinator"),
    ("!services", "member"),
    ("!meeting add 2027-03-04 14:00 Taskforce --duration 2h", "coordinator"),
    ("!meeting list", "member"),
    ("!meeting cancel M1 --date 2027-01-07", "coordinator"),
    ("!meeting move M1 2027-01-08 10:00 --date 2027-01-07", "coordinator"),
    ("!meeting ics M1", "member"),
    ("!rsvp M1 yes", "member"),
    ("!meeting attendees M1", "member"),
    ("!propose Feedback sheet to the police", "member"),
    ("!jib insert TFL-BXL-2026-0042 Follow-up agreed in the last meeting", "member"),
    ("!proposal P1", "member"),
    ("!proposals open", "member"),
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


def check(chat: Chat, command: str, role: str, allowed: bool) -> None:
    before = snapshot(chat)
    reply = chat.send(ROLES[role], command)
    assert reply is not None, (command, role)
    refused = any(r in reply for r in REFUSALS)
    if allowed:
        assert not refused, (command, role, reply)
    else:
        assert refused, (command, role, reply)
        assert snapshot(chat) == before, (command, role, "changed something")


@pytest.mark.parametrize("command, lowest", MATRIX)
def test_each_command_for_each_role(tmp_path, command, lowest):
    for role in ORDER:
        chat = prepared(tmp_path / role)
        check(chat, command, role, ORDER.index(role) >= ORDER.index(lowest))
        chat.db.close()


@pytest.mark.parametrize("kind", ["csil-r", "tfl", "tfn", "workgroup", "platform"])
def test_room_kinds(tmp_path, kind):
    chat = prepared(tmp_path, kind)
    check(chat, "!jib remove TFL-BXL-2026-0042 No longer followed", "member",
          kind in ("tfl", "tfn"))
    check(chat, "!propose Consensus on the feedback sheet", "member", True)
    chat.db.close()


def test_votes_need_a_service_and_a_role(tmp_path):
    chat = prepared(tmp_path)
    check(chat, "!vote P1 agree", "observer", False)
    before = snapshot(chat)
    assert "service" in chat.send("@bob:example.org", "!vote P1 agree")  # no service
    assert snapshot(chat) == before
    check(chat, "!vote P1 agree", "member", True)


def test_withdrawal_by_the_proposer_or_a_chair_only(tmp_path):
    chat = prepared(tmp_path)
    check(chat, "!proposal withdraw P1", "coordinator", False)
    check(chat, "!proposal withdraw P1", "member", True)  # alice proposed it


def test_room_setup_needs_power_100_or_a_bot_admin(tmp_path):
    chat = Chat(tmp_path)
    for user in ("@coord:example.org", "@alice:example.org"):
        assert "Only a room admin" in chat.send(user, "!room setup tfl X")
    assert "set up" in chat.send("@admin:example.org", "!room setup tfl X")


def test_non_members_are_ignored(tmp_path):
    chat = prepared(tmp_path)
    before = snapshot(chat)
    for command, _ in MATRIX:
        assert chat.send("@stranger:example.org", command) is None
    assert snapshot(chat) == before
