"""Decisions as the bodies take them: a fixed electorate, attendance, proposals made at a
meeting under the `present` rule. Through the dispatcher, the due work and the native poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.storage.proposals import AuditEntry, Proposal
from bot.storage.schema import metadata
from tests.unit.test_proposals import (
    ALICE,
    BOB,
    CHAIR,
    COORD,
    deliver,
    emitted_texts,
    outbox,
    poll_answer,
    tick,
)

DORA = "@dora:example.org"


def snapshot(chat) -> dict[str, list]:
    """Every row of every table: a refused command must leave this unchanged."""
    def read(s):
        return {t.name: sorted(map(tuple, s.execute(select(t)).all()), key=repr)
                for t in metadata.sorted_tables}
    return chat.db.call(read)


def refused(chat, sender, command, expected):
    before = snapshot(chat)
    text = chat.send(sender, command)
    assert expected in text, (command, text)
    assert snapshot(chat) == before, command
    return text


@pytest.fixture
def csil(chat):
    """A CSIL-R with three services and a meeting today at 11:00 (Brussels), two hours."""
    chat.members.add(DORA)
    chat.setup("csil-r", "CSIL-R Etterbeek")
    chat.send(COORD, f"!service {ALICE} Police")
    chat.send(COORD, f"!service {BOB} CPAS")
    chat.send(COORD, f"!service {COORD} Parquet")
    text = chat.send(COORD, '!meeting add 2026-11-25 11:00 Cellule de novembre --duration 2h '
                            '--repeat weekly --place "Salle du conseil"')
    assert "M1 scheduled" in text
    return chat


def at(chat, hour, minute=0, day=25):
    chat.now = datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# ---- the fixed electorate --------------------------------------------------------------

def test_a_service_added_mid_vote_does_not_block_unanimity(csil):
    csil.send(ALICE, "!propose Adopt the charter")
    csil.send(COORD, f"!service {DORA} Prison")
    assert "Police votes agree" in csil.send(ALICE, "!vote P1 agree")
    text = refused(csil, DORA, "!vote P1 agree", "Prison joined this room after P1 opened")
    assert "(CPAS, Parquet, Police)" in text
    csil.send(BOB, "!vote P1 agree")
    csil.send(COORD, "!vote P1 agree")
    [outcome] = emitted_texts(csil)
    assert "P1 ADOPTED" in outcome and "Prison" not in outcome


def test_a_service_removed_mid_vote_still_counts_and_votes(csil):
    csil.send(ALICE, "!propose Adopt the charter --deadline 2d")
    csil.send(COORD, f"!service {ALICE} -")  # Police leaves the room's services
    text = csil.send(CHAIR, "!proposal P1")
    assert "Voting services, fixed when it opened: CPAS, Parquet, Police" in text
    assert "Police: @alice:example.org" in text  # still to vote, through alice
    csil.send(BOB, "!vote P1 agree")
    csil.send(COORD, "!vote P1 agree")
    assert "P1 ADOPTED" not in " ".join(emitted_texts(csil))  # Police has not voted yet
    at(csil, 9, day=26)  # the reminder, 24 h before the deadline, mentions alice
    assert tick(csil) == 1
    [reminder] = [c for _, c in outbox(csil) if "Reminder" in c.get("body", "")]
    assert "Police: @alice:example.org" in reminder["body"]
    assert reminder["m.mentions"]["user_ids"] == [ALICE]
    assert "Police votes agree on P1" in csil.send(ALICE, "!vote P1 agree")
    assert "P1 ADOPTED" in emitted_texts(csil)[0]


def test_the_audit_records_the_electorate(csil):
    csil.send(ALICE, "!propose Audited")
    [entry] = csil.db.call(lambda s: [e.detail for e in s.scalars(select(AuditEntry))
                                      if e.action == "proposed"])
    assert entry["electorate"] == {"CPAS": [BOB], "Parquet": [COORD], "Police": [ALICE]}
    assert entry["absent"] == [] and entry["meeting"] is None


# ---- attendance --------------------------------------------------------------------------

def test_marking_attendance_and_seeing_it_beside_the_rsvps(csil):
    csil.send(ALICE, "!rsvp M1 yes")
    csil.send(COORD, "!rsvp M1 no")
    at(csil, 10, 5)  # 11:05 in Brussels: the meeting is on
    text = csil.send(COORD, f"!meeting present M1 {ALICE} {BOB} {CHAIR}")
    assert "Present at M1 (Cellule de novembre) of Wednesday 25 November 2026, 11:00: " \
           "@alice:example.org, @bob:example.org, @chair:example.org." in text
    assert "Services present: CPAS, Police (2 of 3)." in text
    text = csil.send(COORD, f"!meeting absent M1 {BOB}")
    assert "Absent from M1" in text and "Services present: Police (1 of 3)." in text
    text = csil.send(ALICE, "!meeting attendees M1")
    assert "Police — @alice:example.org: yes, present" in text
    assert "CPAS — @bob:example.org: no answer, absent" in text
    assert "Parquet — @coord:example.org: no" in text
    assert "Without a service — @chair:example.org: no answer, present" in text
    assert "Marked present: 2. Services present: Police." in text
    audited = csil.db.call(lambda s: [(e.action, e.user_id, e.detail["users"]) for e in
                                      s.scalars(select(AuditEntry).order_by(AuditEntry.id))])
    assert audited == [("marked-present", COORD, [ALICE, BOB, CHAIR]),
                       ("marked-absent", COORD, [BOB])]


def test_attendance_refuses_bad_input_and_changes_nothing(csil):
    at(csil, 10, 5)
    refused(csil, ALICE, f"!meeting present M1 {ALICE}", "needs the role coordinator")
    refused(csil, COORD, "!meeting present M1 @nobody:example.org",
            "@nobody:example.org is not a member of this room")
    refused(csil, COORD, "!meeting present M1 alice", "is not a Matrix user id")
    refused(csil, COORD, "!meeting present M1", "Missing argument <user>.")
    refused(csil, COORD, f"!meeting present M9 {ALICE}", "There is no meeting M9")
    refused(csil, COORD, f"!meeting present M1 {ALICE} --date 2026-11-26",
            "Meeting M1 has no occurrence on Thu 26 Nov 2026")
    refused(csil, COORD, f"!meeting present M1 {ALICE} --date 2026-12-02",
            "has not begun: attendance is taken on the day of the meeting")
    at(csil, 7, day=24)  # the day before the first occurrence
    refused(csil, COORD, f"!meeting present M1 {ALICE}", "has not taken place yet")


# ---- proposals at a meeting ----------------------------------------------------------------

def test_present_rule_takes_the_services_present_and_names_the_absent(csil):
    at(csil, 10, 5)
    csil.send(COORD, f"!meeting present M1 {ALICE} {BOB}")
    text = csil.send(ALICE, "!propose Fiche de retour S-12 --meeting M1 --rule present")
    assert "Rule: consensus of the services present." in text
    assert "At meeting M1 (Cellule de novembre) of Wednesday 25 November 2026, 11:00" in text
    assert "Voting: CPAS, Police." in text and "Absent: Parquet." in text
    [(_, start_id, _)] = deliver(csil)
    csil.send(COORD, f"!meeting present M1 {COORD}")  # arrives late: the electorate is fixed
    refused(csil, COORD, "!vote P1 agree",
            "Parquet was not present at the meeting when P1 opened")
    assert poll_answer(csil, start_id, COORD, "agree", power=50)
    assert "Parquet was not present at the meeting when P1 opened, so your answer" in \
        outbox(csil)[-1][1]["body"]
    csil.send(ALICE, "!vote P1 agree")
    csil.send(BOB, "!vote P1 agree")
    [outcome] = emitted_texts(csil)
    assert "P1 ADOPTED" in outcome
    assert "Taking part: CPAS, Police." in outcome and "Absent: Parquet." in outcome
    text = csil.send(CHAIR, "!proposal P1")
    assert "Absent from the meeting: Parquet" in text and "State: adopted" in text


def test_before_anyone_is_marked_the_rsvps_say_who_is_present(csil):
    csil.send(BOB, "!rsvp M1 yes")
    csil.send(CHAIR, "!rsvp M1 yes")  # no service: does not make one present
    text = csil.send(BOB, "!jib insert TFL-1 motif --meeting M1 --rule present")
    assert "only available in rooms of kind tfl, tfn" in text
    text = csil.send(BOB, "!propose Fiche --meeting M1 --rule present")
    assert "Voting: CPAS." in text and "Absent: Parquet, Police." in text


def test_present_rule_refused_when_no_service_is_present(csil):
    at(csil, 10, 5)
    refused(csil, ALICE, "!propose Fiche --meeting M1 --rule present",
            "no service is present at M1 (Cellule de novembre) of Wednesday 25 November 2026, "
            "11:00: nobody is marked present yet")
    csil.send(COORD, f"!meeting present M1 {CHAIR}")
    refused(csil, ALICE, "!propose Fiche --meeting M1 --rule present",
            "none of the people marked present represents a service")
    refused(csil, ALICE, "!propose Fiche --rule present", "say which with --meeting <id>")
    refused(csil, ALICE, "!propose Fiche --date 2026-11-25", "Say which meeting with --meeting")
    refused(csil, ALICE, "!propose Fiche --meeting M1 --rule most", "is not one of")


def test_an_absent_mark_undoes_a_present_one_and_the_rsvps_count_again(csil):
    csil.send(BOB, "!rsvp M1 yes")
    csil.send(ALICE, "!rsvp M1 yes")
    at(csil, 10, 5)
    csil.send(COORD, f"!meeting present M1 {DORA}")  # by mistake
    csil.send(COORD, f"!meeting absent M1 {DORA} {ALICE}")  # undone; Alice did not come
    text = csil.send(BOB, "!propose Fiche --meeting M1 --rule present")
    assert "Voting: CPAS." in text and "Absent: Parquet, Police." in text


def test_present_rule_refused_for_a_meeting_on_a_later_day(csil):
    at(csil, 10, 5)
    csil.send(BOB, "!rsvp M1 yes --date 2026-12-02")
    refused(csil, BOB, "!propose Fiche --meeting M1 --date 2026-12-02 --rule present",
            "Meeting M1 of Wednesday 2 December 2026, 11:00 has not begun: a proposal under "
            "the consensus of the services present opens on the day of the meeting")
    text = csil.send(BOB, "!propose Fiche --meeting M1 --date 2026-12-02")
    assert "Proposal P1 is open" in text  # another rule: every service votes


def test_a_plain_proposal_tied_to_a_meeting_keeps_every_service(csil):
    at(csil, 10, 5)
    csil.send(COORD, f"!meeting present M1 {ALICE}")
    text = csil.send(ALICE, "!propose Charter --meeting M1")
    assert "Voting: CPAS, Parquet, Police." in text and "Absent" not in text


def test_jib_at_a_meeting_with_the_present_rule(chat):
    chat.setup("tfl")
    chat.send(COORD, f"!service {ALICE} Police")
    chat.send(COORD, f"!service {BOB} OCAM")
    chat.send(COORD, "!meeting add 2026-11-25 11:00 TFL")
    at(chat, 10, 30)
    chat.send(COORD, f"!meeting present M1 {ALICE}")
    text = chat.send(ALICE, "!jib insert TFL-BXL-2026-0042 threat assessment --meeting M1 "
                            "--rule present")
    assert "Voting: Police." in text and "Absent: OCAM." in text
    assert "is not one of: unanimity, present" in chat.send(
        ALICE, "!jib insert TFL-1 x --rule no-objection")


def test_a_proposal_closed_before_electorates_were_kept_reads_against_the_room(csil):
    csil.send(ALICE, "!propose Old one")
    for user in (ALICE, BOB, COORD):
        csil.send(user, "!vote P1 agree")

    def forget(s):
        p = s.scalar(select(Proposal))
        p.electors.clear()
        p.electorate_at = None
    csil.db.call(forget)
    text = csil.send(CHAIR, "!proposal P1")
    assert "State: adopted" in text and "CPAS: agree" in text
    assert "Voting services, fixed when it opened: CPAS, Parquet, Police" in text


def test_deadline_outcome_of_a_present_proposal_names_the_missing(csil):
    at(csil, 10, 5)
    csil.send(COORD, f"!meeting present M1 {ALICE} {BOB}")
    csil.send(ALICE, "!propose Fiche --meeting M1 --rule present --deadline 1h")
    csil.send(ALICE, "!vote P1 agree")
    csil.now += timedelta(hours=1, minutes=1)
    assert tick(csil) == 1
    [outcome] = [c["body"] for _, c in outbox(csil) if "P1:" in c.get("body", "")]
    assert "NO CONSENSUS" in outcome and "No vote from: CPAS." in outcome
    assert "Absent: Parquet." in outcome
