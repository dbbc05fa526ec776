"""What a member sees of the bot in a room: its replies, outcomes, polls, and the votes it
shows on record. The reliability tests count these to prove that everything happened once."""

from __future__ import annotations

import re

from harness.client import TestClient, replied_to

POLL_START = "org.matrix.msc3381.poll.start"
POLL_END = "org.matrix.msc3381.poll.end"
POLL_RESPONSE = "org.matrix.msc3381.poll.response"
OUTCOMES = ("ADOPTED", "REJECTED", "NO CONSENSUS")


def kind(ev) -> str:
    return ev.source.get("type", "")


def body(ev) -> str:
    return ev.source.get("content", {}).get("body", "")


def from_bot(client: TestClient, room: str, bot_id: str) -> list:
    return [ev for ev in client.messages(room) if ev.sender == bot_id]


def replies(client: TestClient, room: str, bot_id: str, event_id: str) -> list:
    return [ev for ev in from_bot(client, room, bot_id) if replied_to(ev) == event_id]


def outcome_pattern(number: int) -> re.Pattern:
    """The first line of P<number>'s outcome, whatever it is."""
    return re.compile(rf"^P{number}(:)? (ADOPTED|REJECTED|NO CONSENSUS)\b")


def outcomes(client: TestClient, room: str, bot_id: str, number: int) -> list[str]:
    """The outcome messages of proposal P<number>, as their state words."""
    found = []
    for ev in from_bot(client, room, bot_id):
        m = outcome_pattern(number).match(body(ev))
        if m and kind(ev) == "m.room.message":
            found.append(m[2])
    return found


def poll_starts(client: TestClient, room: str, bot_id: str, number: int) -> list:
    return [ev for ev in from_bot(client, room, bot_id)
            if kind(ev) == POLL_START and body(ev).startswith(f"Proposal P{number}:")]


def poll_ends(client: TestClient, room: str, bot_id: str, start_id: str) -> list:
    return [ev for ev in from_bot(client, room, bot_id) if kind(ev) == POLL_END and
            ev.source["content"].get("m.relates_to", {}).get("event_id") == start_id]


async def answer_poll(client: TestClient, room: str, start_id: str, choice: str) -> str:
    return await client.send_message(room, {
        "m.relates_to": {"rel_type": "m.reference", "event_id": start_id},
        POLL_RESPONSE: {"answers": [choice]},
    }, event_type=POLL_RESPONSE)


def votes_on_record(status: str) -> dict[str, tuple[str, str | None]]:
    """service -> (choice, reason) from the "Votes:" list of `!proposal <id>`."""
    votes: dict[str, tuple[str, str | None]] = {}
    lines = status.splitlines()
    if "Votes:" not in lines:
        return votes
    for line in lines[lines.index("Votes:") + 1:]:
        if not line.startswith("• "):
            break
        service, _, rest = line[2:].partition(": ")
        choice, _, reason = rest.partition(" — ")
        votes[service] = (choice, reason or None)
    return votes


def state_of(status: str) -> str:
    return re.search(r"^• State: (.+)$", status, re.MULTILINE)[1]
