"""The minutes document: opened with python-docx, its text read as a secretary would."""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import docx
import pytest

from bot.commands.minutes.content import (
    ActionEntry,
    AgendaEntry,
    DecisionEntry,
    ItemStatus,
    Minutes,
    ServiceAttendance,
    VoteEntry,
)
from bot.commands.minutes.document import filename, minutes_docx
from bot.commands.minutes.summary import summary
from bot.core.attendance import Presence
from bot.i18n import _ as N_
from bot.reply import render_reply
from harness.documents import docx_lines

BXL = ZoneInfo("Europe/Brussels")
ALICE, BOB, DORA, CHAIR = "@alice:x", "@bob:x", "@dora:x", "@chair:x"


def minutes(**changes) -> Minutes:
    values = dict(
        body=N_("local integral security cell (CSIL-R)"), room_name="CSIL-R Etterbeek",
        meeting="M3", title="Cellule de mars", start=datetime(2026, 3, 26, 14, 0, tzinfo=BXL),
        end=datetime(2026, 3, 26, 16, 0, tzinfo=BXL), place="Hôtel communal, salle 2",
        attendance=(ServiceAttendance("CPAS", Presence.PRESENT, (DORA,)),
                    ServiceAttendance("Parquet", Presence.EXCUSED, ()),
                    ServiceAttendance("Police", Presence.PRESENT, (ALICE,))),
        others_present=(CHAIR,), from_rsvps=False,
        agenda=(AgendaEntry(1, "Suivi des situations", ALICE, 30, ItemStatus.TREATED),
                AgendaEntry(2, "Budget prévention", None, None, ItemStatus.CARRIED,
                            datetime(2026, 4, 23, 14, 0, tzinfo=BXL)),
                AgendaEntry(3, "Divers", None, 5, ItemStatus.OPEN)),
        decisions=(DecisionEntry("P2", N_("{text}", text="Fiche de retour S-12"),
                                 N_("consensus of the services present"), N_("adopted"),
                                 datetime(2026, 3, 26, 15, 10, tzinfo=BXL),
                                 (VoteEntry("CPAS", N_("agree")),
                                  VoteEntry("Police", N_("abstain"), "pas d'avis")),
                                 ("Parquet",)),
                   DecisionEntry("P1", N_("{text}", text="Charte"), N_("unanimity"),
                                 N_("rejected"), datetime(2026, 3, 26, 9, 0, tzinfo=BXL),
                                 (VoteEntry("CPAS", N_("object"), "texte incomplet"),
                                  VoteEntry("Parquet", None), VoteEntry("Police", None)),
                                 at_meeting=False)),
        actions=(ActionEntry("T4", BOB, "Rappeler l'école au 0470/12.34.56",
                             date(2026, 4, 2)),),
        made_at=datetime(2026, 3, 27, 9, 30, tzinfo=BXL))
    values.update(changes)
    return Minutes(**values)


def test_the_english_minutes_hold_every_part_in_order():
    lines = docx_lines(minutes_docx(minutes(), "en"))
    assert lines[:7] == [
        "Minutes — Cellule de mars",
        "Local integral security cell (CSIL-R): CSIL-R Etterbeek",
        "Meeting | M3", "Date | Thursday 26 March 2026", "Time | 14:00 to 16:00",
        "Place | Hôtel communal, salle 2", "Attendance"]
    assert lines[7:12] == [
        "Service | Presence | Present for the service", "CPAS | present | @dora:x",
        "Parquet | excused | —", "Police | present | @alice:x", "Also present: @chair:x"]
    agenda = lines.index("Agenda")
    assert lines[agenda + 1:agenda + 5] == [
        "No. | Item | Presenter | Duration | Outcome",
        "1 | Suivi des situations | @alice:x | 30 min | treated",
        "2 | Budget prévention | — | — | carried over to Thursday 23 April 2026",
        "3 | Divers | — | 5 min | not treated"]
    decisions = lines.index("Decisions")
    assert lines[decisions + 1:decisions + 10] == [
        "P2 — Fiche de retour S-12", "Outcome: adopted",
        "Rule: consensus of the services present", "Closed: Thursday 26 March 2026, 15:10",
        "Services taking part: CPAS, Police", "Services absent: Parquet",
        "Service | Vote | Reason", "CPAS | agree | —", "Police | abstain | pas d'avis"]
    assert "Proposed outside this meeting; closed on its day." in lines
    assert "Parquet | did not vote | —" in lines and "CPAS | object | texte incomplet" in lines
    actions = lines.index("Actions")
    assert lines[actions + 1:actions + 3] == [
        "No. | Action | Owner | Due",
        "T4 | Rappeler l'école au […] | @bob:x | Thursday 2 April 2026"]
    assert lines[-2] == "Drawn up by coordbot on Friday 27 March 2026, 09:30."
    assert "looked like personal data" in lines[-1]


def test_no_personal_data_survives_anywhere_in_the_file():
    data = minutes_docx(minutes(place="Bureau de jan@example.be", room_name="CSIL 02/123.45.67"),
                        "fr")
    text = "\n".join(docx_lines(data))
    assert "0470" not in text and "jan@" not in text and "123.45" not in text
    assert "CSIL […]" in text and "Bureau de […]" in text and "l'école au […]" in text
    archive = docx.Document(io.BytesIO(data))
    assert "0470" not in archive.core_properties.title


def test_french_and_dutch_for_a_bilingual_room():
    lines = docx_lines(minutes_docx(minutes(), "fr+nl"))
    fr = lines.index("Procès-verbal — Cellule de mars")
    nl = lines.index("Notulen — Cellule de mars")
    assert fr == 0 and nl > fr
    assert "Date | jeudi 26 mars 2026" in lines[fr:nl]
    assert "Datum | donderdag 26 maart 2026" in lines[nl:]
    assert "Parquet | excusé | —" in lines[fr:nl] and "Parquet | verontschuldigd | —" in lines[nl:]


def test_an_empty_meeting_says_so():
    lines = docx_lines(minutes_docx(minutes(attendance=(), others_present=(), agenda=(),
                                         decisions=(), actions=(), from_rsvps=True,
                                         place=None), "en"))
    assert "Place | —" in lines
    for said in ("No services are set in this room.", "The agenda had no items.",
                 "No proposal was made at this meeting or closed on its day.",
                 "No action was given at this meeting.",
                 "Nobody was marked present: presence is taken from the answers to the "
                 "invitation (RSVP)."):
        assert said in lines
    assert not any("looked like personal data" in line for line in lines)


@pytest.mark.parametrize(("language", "name"), [
    ("en", "minutes-M3-2026-03-26.docx"), ("fr", "pv-M3-2026-03-26.docx"),
    ("fr+nl", "pv-notulen-M3-2026-03-26.docx")])
def test_file_name(language, name):
    assert filename(minutes(), language) == name


def test_the_summary_message():
    text = render_reply(summary(minutes()), "en")[0]
    assert text.splitlines() == [
        "Minutes of M3 — Cellule de mars, Thursday 26 March 2026, 14:00",
        "• Services present: 2 of 3",
        "• Agenda: 3 items, 1 treated, 1 carried over",
        "• 2 decisions", "• 1 action given", "• P2: adopted", "• P1: rejected"]
