"""A CSIL-R meeting from real encrypted clients, then its minutes: the document the bot posts is
downloaded, decrypted and read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.storage.agenda import AgendaItem
from bot.storage.db import Database
from bot.storage.meetings import Meeting, Rsvp
from harness.client import replied_to
from harness.documents import docx_lines
from tests.integration.test_proposals import ask, bots, taskforce  # noqa: F401 - fixture

pytestmark = pytest.mark.integration
BRUSSELS = ZoneInfo("Europe/Brussels")


def begin_meeting_now(bot, scheduled: datetime, start: datetime) -> None:
    """Move the first occurrence of M1 (with its RSVPs and agenda) from `scheduled` to
    `start`, already past, as if it had been scheduled then: meetings cannot be added in
    the past. The clock replans its reminders."""
    old, new = scheduled.replace(tzinfo=None), start.replace(tzinfo=None)

    def move(s):
        s.execute(update(Meeting).where(Meeting.number == 1).values(
            start=new, remind_at=None, agenda_at=None))
        for table in (Rsvp, AgendaItem):
            s.execute(update(table).where(table.original == old).values(original=new))

    db = Database(f"sqlite:///{bot.workdir / 'coordbot.db'}")
    db.call(move)
    db.close()


async def test_minutes_of_a_meeting_with_two_services_of_three(synapse, make_client, tmp_path,
                                                             bots):  # noqa: F811 - fixture
    bot, room, (alice, bob, carol) = await taskforce(synapse, make_client, tmp_path, bots,
                                                     kind="csil-r")
    # alice: Police (and chair, as the room's creator); bob: OCAM; carol: Parquet
    later = (datetime.now(BRUSSELS) + timedelta(days=1)).replace(second=0, microsecond=0)
    added = await ask(alice, room, bot, f"!meeting add {later:%Y-%m-%d %H:%M} Cellule "
                                        '--duration 2h --repeat weekly --place "Salle 2"')
    assert "Meeting M1 scheduled: Cellule." in added
    assert "Noted" in await ask(carol, room, bot, "!rsvp M1 no")
    for item in ("Suivi des situations", "Budget 2027"):
        assert "added to the agenda" in await ask(alice, room, bot, f"!agenda add {item}")
    start = later - timedelta(days=1, minutes=20)  # the meeting began 20 minutes ago
    begin_meeting_now(bot, later, start)

    marked = await ask(alice, room, bot, f"!meeting present M1 {alice.user_id} {bob.user_id}")
    assert "Services present: OCAM, Police (2 of 3)." in marked
    proposed = await ask(bob, room, bot, "!propose Fiche de retour S-12 --meeting M1 "
                                         "--rule present")
    assert "Voting: OCAM, Police." in proposed and "Absent: Parquet." in proposed
    assert "Parquet was not present" in await ask(carol, room, bot, "!vote P1 object non")
    await ask(alice, room, bot, "!vote P1 agree")
    await ask(bob, room, bot, "!vote P1 abstain pas d'avis")
    outcome = await alice.wait_for_message(room, lambda e: "P1 ADOPTED" in e.body,
                                           sender=bot.user_id)
    assert "Taking part: OCAM, Police." in outcome.body and "Absent: Parquet." in outcome.body
    assert "treated" in await ask(alice, room, bot, "!agenda done A1")
    due = (start + timedelta(days=7)).date()
    assert "Action T1" in await ask(alice, room, bot, f"!action {bob.user_id} Envoyer la "
                                                      f"fiche --due {due}")
    assert "Carried 1 item" in await ask(alice, room, bot, "!agenda carry A2")

    request = await alice.send_text(room, "!minutes M1")
    summary = await alice.wait_for_message(
        room, lambda e: replied_to(e) == request, sender=bot.user_id)
    assert "Services present: 2 of 3" in summary.body and "P1: adopted" in summary.body
    file_event = await alice.wait_for_message(
        room, lambda e: e.source["content"].get("msgtype") == "m.file"
        and replied_to(e) == request, sender=bot.user_id, msgtypes=None)
    content = file_event.source["content"]
    assert content["body"] == f"minutes-M1-{start:%Y-%m-%d}.docx" and "url" not in content
    lines = docx_lines(await alice.download_file(file_event))

    end = start + timedelta(hours=2)
    assert lines[:6] == [
        "Minutes — Cellule", "Local integral security cell (CSIL-R): Taskforce",
        "Meeting | M1", f"Date | {start:%A} {start.day} {start:%B %Y}",
        f"Time | {start:%H:%M} to {end:%H:%M}", "Place | Salle 2"]
    next_week = start + timedelta(days=7)
    for line in (f"OCAM | present | {bob.user_id}", "Parquet | excused | —",
                 f"Police | present | {alice.user_id}",
                 "1 | Suivi des situations | — | — | treated",
                 f"2 | Budget 2027 | — | — | carried over to {next_week:%A} {next_week.day} "
                 f"{next_week:%B %Y}",
                 "P1 — Fiche de retour S-12", "Outcome: adopted",
                 "Services taking part: OCAM, Police", "Services absent: Parquet",
                 "OCAM | abstain | pas d'avis", "Police | agree | —",
                 f"T1 | Envoyer la fiche | {bob.user_id} | {due:%A} {due.day} {due:%B %Y}"):
        assert line in lines, (line, lines)
    assert datetime.now(UTC) < end  # the meeting was still on: nothing above is by chance
