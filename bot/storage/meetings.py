"""Meetings: series stored as local wall-clock start + zone + rule, their changes, RSVPs and
the reminders already sent (one row per occurrence and offset: the exactly-once guarantee)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.core.recurrence import Series
from bot.core.reminders import series_end
from bot.storage.models import Base, Room, UTCDateTime


class Meeting(Base):
    """A one-off meeting or a series; `start` is naive local wall-clock time in `tz`."""

    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("room_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # the room's short id M<number>
    title: Mapped[str] = mapped_column(String(300))
    start: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    tz: Mapped[str] = mapped_column(String(64))
    duration: Mapped[int] = mapped_column(Integer)  # seconds
    place: Mapped[str | None] = mapped_column(String(300), nullable=True)
    rule: Mapped[str | None] = mapped_column(String(500), nullable=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)  # the whole series
    # end of the last occurrence, None when the series has no end: lets the clock skip
    # meetings that are over without expanding them
    last_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # when the clock must look at this meeting's reminders again, planned for the room's
    # offsets in `remind_offsets`; None there: plan at once (new or changed meeting)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    remind_offsets: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # the same for the agenda posts (call for items, final agenda), planned for the room's
    # agenda deadline in seconds
    agenda_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    agenda_planned: Mapped[int | None] = mapped_column(Integer, nullable=True)

    @property
    def short_id(self) -> str:
        return f"M{self.number}"


class OccurrenceChange(Base):
    """One occurrence cancelled, or moved from its rule-generated start to `new_start`."""

    __tablename__ = "meeting_changes"
    __table_args__ = (UniqueConstraint("meeting_id", "original"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    original: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    new_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    changed_by: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Rsvp(Base):
    __tablename__ = "meeting_rsvps"
    __table_args__ = (UniqueConstraint("meeting_id", "original", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    original: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    user_id: Mapped[str] = mapped_column(String(255))
    answer: Mapped[str] = mapped_column(String(8))  # yes | no | maybe
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SentReminder(Base):
    """A reminder done: sent (maybe late) or skipped. Written with its outbox row."""

    __tablename__ = "meeting_reminders_sent"
    __table_args__ = (UniqueConstraint("meeting_id", "original", "offset"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    original: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    offset: Mapped[int] = mapped_column(Integer)  # seconds before the start
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)


class SeenMember(Base):
    """A room member as the bot last saw the room's membership (at a meeting command):
    the bot's clock has no live view of rooms, so reminders name non-responders from this."""

    __tablename__ = "room_members_seen"
    __table_args__ = (UniqueConstraint("room_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


# ---- queries ---------------------------------------------------------------------------

def get_meeting(s: Session, room: Room, number: int) -> Meeting | None:
    return s.scalar(select(Meeting).where(Meeting.room_id == room.id, Meeting.number == number))


def room_meetings(s: Session, room: Room, *, include_cancelled: bool = False) -> list[Meeting]:
    q = select(Meeting).where(Meeting.room_id == room.id)
    if not include_cancelled:
        q = q.where(Meeting.cancelled.is_(False))
    return list(s.scalars(q.order_by(Meeting.number)))


def changes_of(s: Session, meeting_ids: list[int]) -> dict[int, list[OccurrenceChange]]:
    out: dict[int, list[OccurrenceChange]] = {i: [] for i in meeting_ids}
    if meeting_ids:
        for row in s.scalars(select(OccurrenceChange).where(
                OccurrenceChange.meeting_id.in_(meeting_ids))):
            out[row.meeting_id].append(row)
    return out


def series_of(meeting: Meeting, changes: list[OccurrenceChange]) -> Series:
    return Series(start=meeting.start, tz=meeting.tz, duration=timedelta(seconds=meeting.duration),
                  rule=meeting.rule,
                  cancelled=frozenset(c.original for c in changes if c.cancelled),
                  moved={c.original: c.new_start for c in changes
                         if c.new_start is not None and not c.cancelled})


def load_series(s: Session, meeting: Meeting) -> Series:
    return series_of(meeting, changes_of(s, [meeting.id])[meeting.id])


def change_row(s: Session, meeting: Meeting, original: datetime) -> OccurrenceChange | None:
    return s.scalar(select(OccurrenceChange).where(OccurrenceChange.meeting_id == meeting.id,
                                                   OccurrenceChange.original == original))


def forget_reminders(s: Session, meeting: Meeting, original: datetime) -> None:
    """A moved occurrence gets its reminders again, for its new time."""
    s.execute(delete(SentReminder).where(SentReminder.meeting_id == meeting.id,
                                         SentReminder.original == original))


def rsvps(s: Session, meeting: Meeting, original: datetime) -> dict[str, str]:
    """user -> answer for one occurrence."""
    return dict(s.execute(select(Rsvp.user_id, Rsvp.answer).where(
        Rsvp.meeting_id == meeting.id, Rsvp.original == original).order_by(Rsvp.user_id)).all())


def set_rsvp(s: Session, meeting: Meeting, original: datetime, user: str, answer: str,
             now: datetime) -> None:
    row = s.scalar(select(Rsvp).where(Rsvp.meeting_id == meeting.id, Rsvp.original == original,
                                      Rsvp.user_id == user))
    if row is None:
        s.add(Rsvp(meeting_id=meeting.id, original=original, user_id=user, answer=answer, at=now))
    else:
        row.answer, row.at = answer, now
    s.flush()


def note_members(s: Session, room: Room, members: frozenset[str], now: datetime) -> None:
    """Remember the room's membership as seen now (joined and left members)."""
    known = {m.user_id: m for m in s.scalars(select(SeenMember).where(
        SeenMember.room_id == room.id))}
    for user, row in known.items():
        if user not in members:
            s.delete(row)
    for user in members - known.keys():
        s.add(SeenMember(room_id=room.id, user_id=user, seen_at=now))


def seen_members(s: Session, room: Room) -> list[str]:
    return list(s.scalars(select(SeenMember.user_id).where(SeenMember.room_id == room.id)
                          .order_by(SeenMember.user_id)))


def add_meeting(s: Session, meeting: Meeting) -> Meeting:
    s.add(meeting)
    return meeting


def occurrence_change(s: Session, meeting: Meeting, original: datetime, *, by: str,
                      at: datetime) -> OccurrenceChange:
    """The change of one occurrence (made now, if it had none), stamped with who changed it
    and when."""
    change = change_row(s, meeting, original)
    if change is None:
        change = OccurrenceChange(meeting_id=meeting.id, original=original, cancelled=False)
        s.add(change)
    change.changed_by, change.changed_at = by, at
    return change


# ---- what the clock posts before each occurrence ---------------------------------------

class Watch(NamedTuple):
    """Where the clock keeps its plan for one kind of post before each occurrence: when to
    look at a meeting again, the room setting that plan was made for (a changed setting
    plans again), and the room's setting itself."""

    at: Any
    planned: Any
    setting: Any


REMINDERS = Watch(Meeting.remind_at, Meeting.remind_offsets, Room.reminders)
AGENDA_POSTS = Watch(Meeting.agenda_at, Meeting.agenda_planned, Room.agenda_deadline)


def _due(watch: Watch, now: datetime) -> tuple:
    return (Meeting.cancelled.is_(False),
            or_(watch.planned.is_(None), watch.planned != watch.setting, watch.at <= now))


def to_plan(s: Session, watch: Watch, now: datetime, limit: int) -> list[tuple[Meeting, Room]]:
    """Meetings (with their rooms) whose plan is due, new or made for another setting;
    those to look at soonest first."""
    return [tuple(r) for r in s.execute(
        select(Meeting, Room).join(Room, Room.id == Meeting.room_id)
        .where(*_due(watch, now)).order_by(watch.at).limit(limit))]


def next_look(s: Session, watch: Watch, now: datetime) -> datetime | None:
    """When the clock must look again: now if a plan is due, else the earliest planned."""
    if s.scalar(select(Meeting.id).join(Room, Room.id == Meeting.room_id)
                .where(*_due(watch, now)).limit(1)) is not None:
        return now
    return s.scalar(select(func.min(watch.at)).where(Meeting.cancelled.is_(False)))


def planned(s: Session, watch: Watch, meeting: Meeting, room: Room,
            again: datetime | None) -> None:
    """The meeting is planned for the room's current setting, to be looked at `again`."""
    setattr(meeting, watch.planned.key, getattr(room, watch.setting.key))
    setattr(meeting, watch.at.key, again)
    s.flush()


def replan(meeting: Meeting) -> None:
    """A meeting changed: every clock plans it again at once."""
    meeting.remind_offsets = None
    meeting.agenda_planned = None


def changed(s: Session, meeting: Meeting) -> None:
    """Every change raises the calendar SEQUENCE, has the clocks plan the meeting again and
    refreshes the series end."""
    s.flush()
    meeting.sequence += 1
    replan(meeting)
    meeting.last_end = series_end(load_series(s, meeting))


def reminders_done(s: Session, meeting_ids: list[int],
                   since: datetime) -> dict[int, set[tuple[datetime, int]]]:
    """(occurrence, offset) of the reminders sent or skipped since `since`, per meeting."""
    out: dict[int, set[tuple[datetime, int]]] = defaultdict(set)
    for meeting_id, original, offset in s.execute(
            select(SentReminder.meeting_id, SentReminder.original, SentReminder.offset)
            .where(SentReminder.meeting_id.in_(meeting_ids), SentReminder.sent_at >= since)):
        out[meeting_id].add((original, offset))
    return out


def record_reminder(s: Session, meeting: Meeting, original: datetime, offset: int,
                    now: datetime, *, late: bool, skipped: bool) -> None:
    s.add(SentReminder(meeting_id=meeting.id, original=original, offset=offset, sent_at=now,
                       late=late, skipped=skipped))
