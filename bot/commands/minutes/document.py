"""The minutes of one occurrence as a Word document (.docx, which LibreOffice opens too).

Made with python-docx from a `Minutes` value, in one language or, for a `fr+nl` room, in
French then Dutch after a page break. Every text the document quotes goes through the
personal-data guard: a national register number, an e-mail address or a phone number typed
in the room is replaced by […], and the document says that something was withheld.
"""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_BREAK

from bot.commands.minutes.content import AgendaEntry, DecisionEntry, ItemStatus, Minutes
from bot.core.attendance import Presence
from bot.core.guards import redact
from bot.i18n import LOCALES, When, languages_of, render
from bot.i18n import _ as N_

MIMETYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
NONE = "—"
PRESENCE = {Presence.PRESENT: N_("present"), Presence.EXCUSED: N_("excused"),
            Presence.ABSENT: N_("absent")}


def filename(m: Minutes, language: str) -> str:
    """e.g. `pv-notulen-M3-2026-11-25.docx` for a fr+nl room."""
    words = "-".join(render(N_("minutes"), lang, as_html=False)
                     for lang in languages_of(language))
    return f"{words}-{m.meeting}-{m.day.isoformat()}.docx"


def minutes_docx(m: Minutes, language: str) -> bytes:
    """The document, in the room's language(s)."""
    doc = Document()
    langs = languages_of(language)
    props = doc.core_properties
    props.author = "coordbot"
    props.language = LOCALES[langs[0]].replace("_", "-")
    for n, lang in enumerate(langs):
        if n:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        writer = _Writer(doc, lang)
        writer.write(m)
        if n == 0:
            props.title = writer.t(N_("Minutes — {title}", title=m.title))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


class _Writer:
    """One language's part of the document."""

    def __init__(self, doc: DocxDocument, lang: str):
        self.doc, self.lang, self.withheld = doc, lang, 0

    def t(self, value: Any) -> str:
        """A value in this language, with any personal data in it replaced."""
        text, found = redact(render(value, self.lang, as_html=False))
        self.withheld += found
        return text

    def para(self, value: Any, *, bold: Any = None) -> None:
        p = self.doc.add_paragraph()
        if bold is not None:
            p.add_run(self.t(bold)).bold = True
            p.add_run(" ")
        p.add_run(self.t(value))

    def table(self, header: tuple[Any, ...] | None, rows: list[tuple[Any, ...]]) -> None:
        width = len(header) if header else len(rows[0])
        table = self.doc.add_table(rows=0, cols=width)
        table.style = "Table Grid"
        if header:
            cells = table.add_row().cells
            for cell, label in zip(cells, header, strict=True):
                cell.paragraphs[0].add_run(self.t(label)).bold = True
        for row in rows:
            for cell, value in zip(table.add_row().cells, row, strict=True):
                cell.text = self.t(value) if value is not None else NONE

    def write(self, m: Minutes) -> None:
        self.doc.add_heading(self.t(N_("Minutes — {title}", title=m.title)), level=0)
        body = self.t(m.body)
        self.para(N_("{body}: {room}", body=body[:1].upper() + body[1:], room=m.room_name))
        self.table(None, [
            (N_("Meeting"), m.meeting),
            (N_("Date"), When(m.start, "weekday-date")),
            (N_("Time"), N_("{start} to {end}", start=When(m.start, "time"),
                            end=When(m.end, "time"))),
            (N_("Place"), m.place)])
        self.attendance(m)
        self.agenda(m.agenda)
        self.decisions(m.decisions)
        self.actions(m)
        self.doc.add_paragraph()
        self.para(N_("Drawn up by coordbot on {when}.", when=When(m.made_at,
                                                                  "weekday-datetime")))
        if self.withheld:
            self.para(N_("Some text is replaced by […]: it looked like personal data (a "
                         "national register number, an e-mail address or a phone number), "
                         "which minutes do not hold."))

    def attendance(self, m: Minutes) -> None:
        self.doc.add_heading(self.t(N_("Attendance")), level=1)
        if not m.attendance:
            self.para(N_("No services are set in this room."))
        else:
            self.table((N_("Service"), N_("Presence"), N_("Present for the service")),
                       [(a.service, PRESENCE[a.presence], ", ".join(a.people) or None)
                        for a in m.attendance])
        if m.others_present:
            self.para(", ".join(m.others_present), bold=N_("Also present:"))
        if m.from_rsvps:
            self.para(N_("Nobody was marked present: presence is taken from the answers to "
                         "the invitation (RSVP)."))

    def agenda(self, items: tuple[AgendaEntry, ...]) -> None:
        self.doc.add_heading(self.t(N_("Agenda")), level=1)
        if not items:
            self.para(N_("The agenda had no items."))
            return
        self.table((N_("No."), N_("Item"), N_("Presenter"), N_("Duration"), N_("Outcome")),
                   [(i.position, i.title, i.presenter,
                     N_("{minutes} min", minutes=i.minutes) if i.minutes else None, _status(i))
                    for i in items])

    def decisions(self, decisions: tuple[DecisionEntry, ...]) -> None:
        self.doc.add_heading(self.t(N_("Decisions")), level=1)
        if not decisions:
            self.para(N_("No proposal was made at this meeting or closed on its day."))
        for d in decisions:
            self.doc.add_heading(self.t(N_("{id} — {subject}", id=d.short_id,
                                           subject=d.subject)), level=2)
            self.para(d.outcome, bold=N_("Outcome:"))
            self.para(d.rule, bold=N_("Rule:"))
            if d.closed_at is not None:
                self.para(When(d.closed_at, "weekday-datetime"), bold=N_("Closed:"))
            if not d.at_meeting:
                self.para(N_("Proposed outside this meeting; closed on its day."))
            if d.absent:
                self.para(", ".join(v.service for v in d.votes) or NONE,
                          bold=N_("Services taking part:"))
                self.para(", ".join(d.absent), bold=N_("Services absent:"))
            if d.votes:
                self.table((N_("Service"), N_("Vote"), N_("Reason")),
                           [(v.service, v.choice if v.choice is not None
                             else N_("did not vote"), v.reason) for v in d.votes])

    def actions(self, m: Minutes) -> None:
        self.doc.add_heading(self.t(N_("Actions")), level=1)
        if not m.actions:
            self.para(N_("No action was given at this meeting."))
            return
        self.table((N_("No."), N_("Action"), N_("Owner"), N_("Due")),
                   [(a.short_id, a.text, a.owner,
                     When(a.due, "weekday-date") if a.due is not None else None)
                    for a in m.actions])


def _status(item: AgendaEntry) -> Any:
    if item.status is ItemStatus.TREATED:
        return N_("treated")
    if item.status is ItemStatus.CARRIED and item.carried_to is not None:
        return N_("carried over to {when}", when=When(item.carried_to, "weekday-date"))
    if item.status is ItemStatus.CARRIED:
        return N_("carried over")
    return N_("not treated")
