"""`!minutes` and `coordbot minutes`: the document gathered from what the room did."""

from __future__ import annotations

import io

import docx
import pytest
import yaml

from bot.cli import main
from harness.documents import docx_lines
from tests.unit.test_decisions import DORA, at, refused
from tests.unit.test_proposals import ALICE, BOB, CHAIR, COORD

ROOM = "!room:example.org"


def meeting_held(chat, language="en"):
    """A CSIL-R meeting: two of three services present, a `present` proposal adopted by
    them, an item treated and one carried over, an action given."""
    chat.members.add(DORA)
    chat.setup("csil-r", "CSIL-R Etterbeek")
    chat.send(CHAIR, f"!room set language {language}")
    chat.send(COORD, f"!service {ALICE} Police")
    chat.send(COORD, f"!service {BOB} CPAS")
    chat.send(COORD, f"!service {COORD} Parquet")
    chat.send(COORD, '!meeting add 2026-11-25 11:00 Cellule de novembre --duration 2h '
                     '--repeat weekly --place "Salle du conseil"')
    chat.send(COORD, f"!agenda add Suivi des situations --presenter {ALICE} --minutes 20")
    chat.send(COORD, "!agenda add Budget prévention 2027")
    chat.send(COORD, "!rsvp M1 no")
    at(chat, 10, 5)
    chat.send(COORD, f"!meeting present M1 {ALICE} {BOB} {CHAIR}")
    chat.send(ALICE, "!propose Fiche de retour S-12 à la police --meeting M1 --rule present")
    chat.send(ALICE, "!vote P1 agree")
    chat.send(BOB, "!vote P1 abstain pas d'avis sur ce point")
    chat.send(COORD, "!agenda done A1")
    chat.send(COORD, f"!action {BOB} Envoyer la fiche au chef de corps --due 2026-12-01")
    at(chat, 12, 30)  # after the meeting
    chat.send(COORD, "!agenda carry A2")
    return chat


def minutes_text(chat, command="!minutes M1"):
    reply = chat.send(COORD, command)
    attachment = chat.last.reply.attachment
    return reply, attachment, docx_lines(attachment.data)


def test_minutes_of_a_meeting_held(chat):
    reply, attachment, lines = minutes_text(meeting_held(chat))
    assert reply.splitlines() == [
        "Minutes of M1 — Cellule de novembre, Wednesday 25 November 2026, 11:00",
        "• Services present: 2 of 3", "• Agenda: 2 items, 1 treated, 1 carried over",
        "• 1 decision", "• 1 action given", "• P1: adopted"]
    assert attachment.filename == "minutes-M1-2026-11-25.docx"
    assert attachment.mimetype.endswith("wordprocessingml.document")
    assert lines[:6] == [
        "Minutes — Cellule de novembre",
        "Local integral security cell (CSIL-R): CSIL-R Etterbeek", "Meeting | M1",
        "Date | Wednesday 25 November 2026", "Time | 11:00 to 13:00",
        "Place | Salle du conseil"]
    for line in ("CPAS | present | @bob:example.org", "Parquet | excused | —",
                 "Police | present | @alice:example.org", "Also present: @chair:example.org",
                 "1 | Suivi des situations | @alice:example.org | 20 min | treated",
                 "2 | Budget prévention 2027 | — | — | carried over to Wednesday 2 December 2026",
                 "P1 — Fiche de retour S-12 à la police", "Outcome: adopted",
                 "Rule: consensus of the services present", "Services taking part: CPAS, Police",
                 "Services absent: Parquet", "CPAS | abstain | pas d'avis sur ce point",
                 "Police | agree | —",
                 "T1 | Envoyer la fiche au chef de corps | @bob:example.org | "
                 "Tuesday 1 December 2026"):
        assert line in lines, line
    assert lines[-1] == "Drawn up by coordbot on Wednesday 25 November 2026, 13:30."


def test_minutes_in_french_and_dutch(chat):
    _, attachment, lines = minutes_text(meeting_held(chat, "fr+nl"))
    assert attachment.filename == "pv-notulen-M1-2026-11-25.docx"
    nl = lines.index("Notulen — Cellule de novembre")
    assert lines[0] == "Procès-verbal — Cellule de novembre"
    assert "Parquet | excusé | —" in lines[:nl] and "Parquet | verontschuldigd | —" in lines[nl:]
    assert "Services absents : Parquet" in lines[:nl]
    assert "Afwezige diensten: Parquet" in lines[nl:]


def test_minutes_refuse_bad_input_and_change_nothing(chat):
    meeting_held(chat)
    refused(chat, ALICE, "!minutes M1", "needs the role coordinator")
    refused(chat, COORD, "!minutes M9", "There is no meeting M9 in this room.")
    refused(chat, COORD, "!minutes M1 --date 2026-12-02", "Meeting M1 of Wednesday 2 December "
                                                         "2026, 11:00 has not begun")
    refused(chat, COORD, "!minutes M1 --date 2026-11-26", "has no occurrence on")
    refused(chat, COORD, "!minutes M1 --date soon", "is not a date")


def test_minutes_hold_no_personal_data(chat):
    meeting_held(chat)
    at(chat, 11, 0)  # during the meeting
    chat.send(COORD, f"!action {ALICE} Rappeler le 0470/12.34.56 --due 2026-12-01")
    _, _, lines = minutes_text(chat)
    assert "T2 | Rappeler le […] | @alice:example.org | Tuesday 1 December 2026" in lines
    assert not any("0470" in line for line in lines)
    assert "looked like personal data" in lines[-1]


def test_a_proposal_closed_on_the_day_is_in_the_minutes(chat):
    meeting_held(chat)
    at(chat, 9, 0)
    chat.send(ALICE, "!propose Charte --deadline 1d")
    at(chat, 12, 45)
    for user in (ALICE, BOB, COORD):
        chat.send(user, "!vote P2 agree")
    _, _, lines = minutes_text(chat)
    assert "P2 — Charte" in lines
    assert "Proposed outside this meeting; closed on its day." in lines


def config_file(chat, tmp_path):
    path = tmp_path / "archive.yaml"
    path.write_text(yaml.safe_dump({
        "matrix": {"homeserver": "http://127.0.0.1:1", "user_id": "@coordbot:example.org",
                   "password": "x"},
        "storage": {"database": chat.config.storage.database}}))
    return str(path)


def test_the_command_line_writes_the_same_document(chat, tmp_path, capsys, monkeypatch):
    meeting_held(chat)
    _, attachment, lines = minutes_text(chat)
    config = config_file(chat, tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["minutes", "--room", ROOM, "--meeting", "M1", "--date", "2026-11-25",
                 "-c", config]) == 0
    assert "minutes written to minutes-M1-2026-11-25.docx" in capsys.readouterr().err
    written = (tmp_path / "minutes-M1-2026-11-25.docx").read_bytes()
    assert docx_lines(written)[:-1] == lines[:-1]  # all but the time it was drawn up
    assert docx.Document(io.BytesIO(written)).core_properties.title == \
        "Minutes — Cellule de novembre"


@pytest.mark.parametrize(("args", "said"), [
    (["--room", "!nowhere:example.org", "--meeting", "M1"], "no room !nowhere:example.org"),
    (["--room", ROOM, "--meeting", "M7"], "there is no meeting M7"),
    (["--room", ROOM, "--meeting", "M1", "--date", "2026-11-24"], "has no occurrence on"),
    (["--room", ROOM, "--meeting", "M1", "--date", "25/11"], "25/11 is not a date")])
def test_the_command_line_says_what_is_wrong(chat, tmp_path, capsys, monkeypatch, args, said):
    meeting_held(chat)
    monkeypatch.chdir(tmp_path)
    assert main(["minutes", *args, "-c", config_file(chat, tmp_path)]) == 2
    assert said in capsys.readouterr().err
    assert not list(tmp_path.glob("*.docx"))
