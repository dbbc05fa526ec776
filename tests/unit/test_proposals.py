"""Consensus proposals through the command dispatcher, the clock and the native poll."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.commands.family import Event
from bot.commands.proposals.due import ProposalDueWork
from bot.commands.proposals.polls import on_poll_response
from bot.retention import purge
from bot.storage.models import Outbox
from bot.storage.outbox import mark_sent, queue
from bot.storage.proposals import AuditEntry, Proposal, VoteRecord

CHAIR, COORD, ALICE, BOB, OBS = (f"@{n}:example.org" for n in
                                 ("chair", "coord", "alice", "bob", "obs"))
POLL_START = "org.matrix.msc3381.poll.start"
POLL_END = "org.matrix.msc3381.poll.end"
_events = itertools.count(1)


@pytest.fixture
def room(chat):
    """A taskforce with three services: Police (alice), OCAM (bob), Parquet (coord)."""
    chat.setup("tfl")
    chat.send(COORD, f"!service {ALICE} Police")
    chat.send(COORD, f"!service {BOB} OCAM")
    chat.send(COORD, f"!service {COORD} Parquet")
    chat.send(CHAIR, f"!role {OBS} observer")
    return chat


def emitted(chat):
    """What the last command said besides its reply."""
    return chat.last.messages[1:]


def deliver(chat, said=None):
    """Queue and 'send' what the last command said besides its reply (or `said`), as the
    bot would; returns (event type, event id, content) of each."""
    ids = []

    def store(s):
        rows = queue(s, emitted(chat) if said is None else said, chat.now)
        mark_sent(s, [(row, f"$sent{row.id}") for row in rows], chat.now)
        ids.extend((row.event_type, f"$sent{row.id}", row.content) for row in rows)
    chat.db.call(store)
    return ids


def outbox(chat, event_type=None):
    def rows(s):
        q = select(Outbox).order_by(Outbox.id)
        if event_type:
            q = q.where(Outbox.event_type == event_type)
        return [(r.event_type, r.content) for r in s.scalars(q)]
    return chat.db.call(rows)


def tick(chat):
    def run(s):
        out = []
        done = ProposalDueWork().run_due(s, chat.now, out)
        queue(s, out, chat.now)
        return done
    return chat.db.call(run)


def count(chat, model):
    return chat.db.call(lambda s: s.scalar(select(func.count()).select_from(model)))


def emitted_texts(chat):
    return [m.content.get("body", "") for m in emitted(chat)
            if m.event_type == "m.room.message"]


def test_propose_posts_a_native_poll(room):
    text = room.send(ALICE, "!propose Share the quarterly report --deadline 2d")
    assert "Proposal P1 is open until" in text and "Share the quarterly report" in text
    [said] = emitted(room)
    event_type, content, ref = said.event_type, said.content, said.ref
    assert event_type == POLL_START and ref.startswith("poll:")
    poll = content[POLL_START]
    assert poll["kind"] == "org.matrix.msc3381.poll.disclosed" and poll["max_selections"] == 1
    assert [a["id"] for a in poll["answers"]] == ["agree", "object", "abstain"]
    assert "P1" in poll["question"]["org.matrix.msc1767.text"]
    assert "!vote P1" in content["body"] and content["org.matrix.msc1767.text"]
    assert "P2" in room.send(BOB, "!propose Another one")


def test_vote_rules_and_closing_on_the_last_vote(room):
    room.send(ALICE, "!propose Adopt the protocol")
    deliver(room)
    assert "do not represent a service" in room.send(CHAIR, "!vote P1 agree")
    assert "Observers can read but not act" in room.send(OBS, "!vote P1 agree")
    text = room.send(BOB, "!vote P1 object")
    assert "An objection needs a reason" in text and "Usage: !vote" in text
    assert "There is no proposal P9 in this room" in room.send(BOB, "!vote P9 agree")
    text = room.send(ALICE, "!vote P1 agree")
    assert "Police votes agree on P1" in text and "Still to vote: OCAM, Parquet" in text
    room.send(BOB, "!vote P1 object not ready yet")
    room.send(BOB, "!vote p1 agree")  # changes its mind before closing
    text = room.send(COORD, "!vote P1 abstain")
    assert "Parquet votes abstain on P1" in text
    [outcome] = emitted_texts(room)
    assert "P1 ADOPTED" in outcome and "OCAM: agree" in outcome
    [end] = [m.content for m in emitted(room) if m.event_type == POLL_END]
    assert end["m.relates_to"] == {"rel_type": "m.reference", "event_id": "$sent1"}
    assert "is closed (adopted)" in room.send(ALICE, "!vote P1 object too late")
    assert emitted(room) == []
    text = room.send(BOB, "!proposal P1")
    assert "State: adopted" in text and "OCAM: agree" in text and "History:" in text
    assert "not ready yet" not in text.split("History:")[0]
    assert count(room, VoteRecord) == 4


def test_outcomes_and_their_closing_vote_go_ahead_of_other_messages(room):
    room.send(ALICE, "!propose Adopt the protocol --deadline 1h")
    assert not room.last.messages[0].urgent
    deliver(room)
    room.send(ALICE, "!vote P1 agree")
    assert not room.last.messages[0].urgent  # a vote that closes nothing waits its turn
    room.send(BOB, "!vote P1 agree")
    room.send(COORD, "!vote P1 agree")
    assert room.last.messages[0].urgent and any("P1 ADOPTED" in t for t in emitted_texts(room))
    room.send(ALICE, "!propose Another one --deadline 1h")  # closed by the clock
    deliver(room)
    room.now += timedelta(hours=2)
    tick(room)
    urgent = room.db.call(lambda s: [r.content["body"] for r in s.scalars(
        select(Outbox).where(Outbox.urgent))])
    assert len(urgent) == 2 and "P2: NO CONSENSUS" in urgent[0] and "poll on P2" in urgent[1]


def test_one_objection_rejects_with_its_reason(room):
    room.send(ALICE, "!propose Close the file")
    deliver(room)
    room.send(ALICE, "!vote P1 agree")
    room.send(COORD, "!vote P1 agree")
    room.send(BOB, "!vote P1 object the assessment is still open")
    [outcome] = emitted_texts(room)
    assert "P1 REJECTED" in outcome and "OCAM: the assessment is still open" in outcome


def test_jib_only_in_taskforces_and_with_a_case_reference(room):
    text = room.send(ALICE, "!jib insert TFL-BXL-2026-0042 new elements from the police")
    assert "P1 is open" in text and "insert case TFL-BXL-2026-0042 into the JIB" in text
    assert "not a case reference" in room.send(ALICE, "!jib remove ab@cd motivation")
    other = "!other:example.org"
    room.setup("csil-r", "CSIL-R Molenbeek", room=other)
    text = room.send(ALICE, "!jib insert TFL-1 something", room=other)
    assert "!jib is only available in rooms of kind tfl, tfn" in text
    assert "!jib" not in room.send(ALICE, "!help", room=other)
    assert "P1" in room.send(ALICE, "!propose A plain proposal is fine here", room=other)


@pytest.mark.parametrize("command, kind", [
    ("!propose Insert 85.07.31-003.28 into the JIB", "a national register number"),
    ("!propose Contact jan.peeters@example.be first", "an e-mail address"),
    ("!jib insert 0470123456 follow-up needed", "a phone number"),
    ("!jib remove TFL-7 call +32 470 12 34 56 before", "a phone number"),
    ("!vote P1 object see mail of x.y@police.be", "an e-mail address"),
])
def test_personal_data_is_refused_and_never_stored(room, command, kind):
    room.send(ALICE, "!propose Baseline")
    before = (count(room, Proposal), count(room, VoteRecord), count(room, AuditEntry))
    text = room.send(BOB, command)
    assert f"Not recorded: the text contains {kind}." in text
    for secret in ("85.07.31", "jan.peeters", "0470123456", "470 12 34", "x.y@"):
        assert secret not in text
    assert (count(room, Proposal), count(room, VoteRecord), count(room, AuditEntry)) == before
    assert emitted(room) == []


def test_ids_of_another_room_are_unknown(room):
    room.send(ALICE, "!propose Room one only")
    other = "!other:example.org"
    room.setup("tfn", "TFN", room=other)
    room.send(COORD, f"!service {ALICE} Police", room=other)
    for cmd in ("!proposal P1", "!vote P1 agree", "!proposal withdraw P1"):
        assert "There is no proposal P1 in this room" in room.send(ALICE, cmd, room=other)
    assert "No open proposals" in room.send(ALICE, "!proposals", room=other)


def test_listing_and_withdrawal(room):
    room.send(ALICE, "!propose First --rule no-objection")
    room.send(BOB, "!propose Second --deadline 10m")
    deliver(room)
    text = room.send(COORD, "!proposals")
    assert "P1 — First" in text and "P2 — Second" in text and "0/3 services voted" in text
    assert "out of range" in room.send(BOB, "!propose Too short --deadline 5m")
    assert "Only its proposer or a chair" in room.send(ALICE, "!proposal withdraw P2")
    assert "P2 is withdrawn" in room.send(BOB, "!proposal withdraw P2")
    assert [m.event_type for m in emitted(room)] == [POLL_END]
    assert "was withdrawn" in room.send(ALICE, "!vote P2 agree")
    assert "P1 is withdrawn" in room.send(CHAIR, "!proposal withdraw P1")
    text = room.send(COORD, "!proposals closed")
    assert "P1 — First — withdrawn" in text and "P2 — Second — withdrawn" in text
    assert "No open proposals" in room.send(COORD, "!proposals open")


def test_deadline_closes_once_through_the_clock(room):
    room.send(ALICE, "!propose Decide by Friday --deadline 2d")
    deliver(room)
    room.send(ALICE, "!vote P1 agree")
    start = room.now
    clock = ProposalDueWork()
    due = room.db.call(lambda s: clock.next_due(s, room.now))
    assert due == start + timedelta(days=1)  # the reminder, 24 h before the deadline
    room.now = start + timedelta(days=1, minutes=1)
    assert tick(room) == 1 and tick(room) == 0
    [reminder] = [c for t, c in outbox(room, "m.room.message") if "Reminder" in c["body"]]
    assert "P1" in reminder["body"] and BOB in reminder["body"] and ALICE not in reminder["body"]
    assert sorted(reminder["m.mentions"]["user_ids"]) == [BOB, COORD]
    room.now = start + timedelta(days=2)
    assert tick(room) == 1
    assert tick(room) == 0  # exactly once, also when run again
    outcomes = [c["body"] for t, c in outbox(room) if "NO CONSENSUS" in c.get("body", "")]
    assert len(outcomes) == 1 and "No vote from: OCAM, Parquet" in outcomes[0]
    [end] = [c for t, c in outbox(room, POLL_END)]
    assert end["m.relates_to"]["event_id"] == "$sent1"
    assert room.db.call(lambda s: clock.next_due(s, room.now)) is None
    assert "State: no consensus" in room.send(BOB, "!proposal P1")


def test_short_deadline_reminds_half_way_and_no_objection_rule(room):
    room.send(ALICE, "!propose Quick one --deadline 1h --rule no-objection")
    room.send(ALICE, "!vote P1 agree")
    room.send(BOB, "!vote P1 abstain")
    start = room.now
    assert room.db.call(lambda s: ProposalDueWork().next_due(s, start)) == start + \
        timedelta(minutes=30)
    room.now = start + timedelta(hours=1, seconds=1)  # the reminder is skipped past deadline
    assert tick(room) == 1
    [outcome] = [c["body"] for t, c in outbox(room) if "P1" in c.get("body", "")]
    assert "P1 ADOPTED" in outcome


def test_a_vote_after_the_deadline_closes_first(room):
    room.send(ALICE, "!propose Late vote --deadline 10m")
    room.now += timedelta(minutes=11)
    assert "is closed (no consensus)" in room.send(BOB, "!vote P1 agree")
    assert any("NO CONSENSUS" in t for t in emitted_texts(room))
    assert tick(room) == 0


def poll_answer(room, start_id, sender, answer, power=0):
    """Whether the answer was taken (what the bot says about it is queued)."""
    ev = Event(room_id="!room:example.org", event_id=f"$poll{next(_events)}", sender=sender,
               kind="poll.response", power=power, content={
                   "m.relates_to": {"rel_type": "m.reference", "event_id": start_id},
                   "org.matrix.msc3381.poll.response": {"answers": [answer]}})

    def handle(s):
        said = on_poll_response(s, ev, room.now)
        queue(s, said or [], room.now)
        return said is not None
    return room.db.call(handle)


def test_poll_answers_count_like_votes(room):
    room.send(ALICE, "!propose Vote in the poll")
    [(_, start_id, _)] = deliver(room)
    assert poll_answer(room, start_id, ALICE, "agree")
    assert poll_answer(room, start_id, BOB, "object")
    prompt = outbox(room)[-1][1]
    assert "your objection to P1 is counted for OCAM" in prompt["body"]
    assert "!vote P1 object <reason>" in prompt["body"]
    assert prompt["m.mentions"]["user_ids"] == [BOB]
    assert poll_answer(room, start_id, CHAIR, "agree", power=100)
    assert "do not represent a service" in outbox(room)[-1][1]["body"]
    assert poll_answer(room, start_id, OBS, "agree")
    assert "observers can read but not vote" in outbox(room)[-1][1]["body"]
    assert not poll_answer(room, "$unknown", ALICE, "agree")
    assert not poll_answer(room, start_id, ALICE, "maybe")
    room.send(BOB, "!vote P1 agree")
    assert poll_answer(room, start_id, COORD, "agree", power=50)
    bodies = [c.get("body", "") for _, c in outbox(room)]
    assert sum("P1 ADOPTED" in b for b in bodies) == 1
    ends = outbox(room, POLL_END)
    assert len(ends) == 1 and ends[0][1]["m.relates_to"]["event_id"] == start_id
    assert poll_answer(room, start_id, ALICE, "object")
    assert "P1 is closed" in outbox(room)[-1][1]["body"]
    sources = room.db.call(lambda s: [v.source for v in s.scalars(select(VoteRecord))])
    assert sources == ["poll", "poll", "command", "poll"]


def test_audit_records_every_step(room):
    room.send(ALICE, "!propose Audited")
    room.send(ALICE, "!vote P1 agree")
    room.send(ALICE, "!vote P1 abstain")
    room.send(BOB, "!vote P1 agree")
    room.send(COORD, "!vote P1 agree")
    room.send(BOB, "!propose Withdrawn one")
    room.send(BOB, "!proposal withdraw P2")
    actions = room.db.call(lambda s: [(e.proposal, e.action, e.service) for e in
                                      s.scalars(select(AuditEntry).order_by(AuditEntry.id))])
    assert actions == [("P1", "proposed", "Police"), ("P1", "vote", "Police"),
                       ("P1", "vote-changed", "Police"), ("P1", "vote", "OCAM"),
                       ("P1", "vote", "Parquet"), ("P1", "closed", None),
                       ("P2", "proposed", "OCAM"), ("P2", "withdrawn", "OCAM")]


def test_audit_export_csv_and_json(room, tmp_path, capsys):
    import csv
    import io
    import json

    import yaml

    from bot.cli import main

    room.send(ALICE, "!propose Exported")
    room.send(BOB, "!vote P1 object not yet")
    config = tmp_path / "export.yaml"
    config.write_text(yaml.safe_dump({
        "matrix": {"homeserver": "http://127.0.0.1:1", "user_id": "@coordbot:example.org",
                   "password": "x", "store_key": "the unit tests' store key"},
        "storage": {"database": room.config.storage.database}}))
    assert main(["audit", "export", "--room", "!room:example.org", "--format", "json",
                 "-c", str(config)]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["proposal"], e["action"], e["user"]) for e in entries] == [
        ("P1", "proposed", ALICE), ("P1", "vote", BOB)]
    assert entries[1]["detail"]["reason"] == "not yet" and entries[1]["service"] == "OCAM"
    assert main(["audit", "export", "--room", "!room:example.org", "-c", str(config)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[1]["action"] == "vote" and json.loads(rows[1]["detail"])["choice"] == "object"
    assert main(["audit", "export", "--room", "!other:example.org", "-c", str(config)]) == 0
    out = capsys.readouterr()
    assert out.out == "at,room,proposal,user,service,action,detail\n"
    assert "no audit entries" in out.err


def test_a_poll_sent_after_its_proposal_closed_is_ended_by_the_clock(room):
    room.send(ALICE, "!propose Poll still in the outbox")
    poll = emitted(room)
    for user in (ALICE, BOB, COORD):
        room.send(user, "!vote P1 agree")
    assert [m.event_type for m in emitted(room)] == ["m.room.message"]  # the outcome only
    assert room.db.call(lambda s: ProposalDueWork().next_due(s, room.now)) is None
    [(_, start_id, _)] = deliver(room, poll)
    assert room.db.call(lambda s: ProposalDueWork().next_due(s, room.now)) == room.now
    assert tick(room) == 1 and tick(room) == 0
    [(_, end)] = outbox(room, POLL_END)
    assert end["m.relates_to"]["event_id"] == start_id and "adopted" in end["body"]


def test_a_long_poll_still_counts_and_ends_after_sent_messages_are_purged(room):
    """The bot forgets sent messages after a week; a poll open longer still knows its
    start: answers in it count, and it is ended at the deadline."""
    room.send(ALICE, "!propose Look again in two weeks --deadline 14d")
    [(_, start_id, _)] = deliver(room)
    room.now += timedelta(days=8)
    assert room.db.call(lambda s: purge(s, room.config, room.now)).sent_messages == 1
    assert poll_answer(room, start_id, BOB, "agree")
    assert "OCAM: agree" in room.send(BOB, "!proposal P1")
    room.now += timedelta(days=7)
    tick(room)
    [(_, end)] = outbox(room, POLL_END)
    assert end["m.relates_to"]["event_id"] == start_id
