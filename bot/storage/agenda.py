"""Agenda items (each on one occurrence of a meeting), and the agenda posts made (the call
for items and the final agenda, each once per occurrence)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from bot.storage.meetings import Meeting
from bot.storage.models import Base, Room, UTCDateTime


class AgendaItem(Base):
    __tablename__ = "agenda_items"
    __table_args__ = (UniqueConstraint("room_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # the room's short id A<number>
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"),
                                            index=True)
    original: Mapped[datetime] = mapped_column(DateTime(timezone=False))  # the occurrence
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    presenter: Mapped[str | None] = mapped_column(String(255), nullable=True)
    minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    author: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # added after the deadline
    done: Mapped[bool] = mapped_column(Boolean, default=False)  # treated at the meeting
    carried: Mapped[int] = mapped_column(Integer, default=0)  # times carried to a later one

    meeting: Mapped[Meeting] = relationship()

    @property
    def short_id(self) -> str:
        return f"A{self.number}"


class AgendaPost(Base):
    """The call for items ("call") or the final agenda ("final") of one occurrence: done once."""

    __tablename__ = "agenda_posts"
    __table_args__ = (UniqueConstraint("meeting_id", "original", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    original: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    kind: Mapped[str] = mapped_column(String(8))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)


# ---- queries ---------------------------------------------------------------------------

def items_of(s: Session, meeting_id: int, original: datetime) -> list[AgendaItem]:
    return list(s.scalars(select(AgendaItem).where(
        AgendaItem.meeting_id == meeting_id, AgendaItem.original == original)
        .order_by(AgendaItem.position, AgendaItem.number)))


def get_item(s: Session, room: Room, number: int) -> AgendaItem | None:
    return s.scalar(select(AgendaItem).where(AgendaItem.room_id == room.id,
                                             AgendaItem.number == number))


def untreated_items(s: Session, room: Room) -> list[AgendaItem]:
    """The room's items not treated yet, in agenda order."""
    return list(s.scalars(select(AgendaItem).where(
        AgendaItem.room_id == room.id, AgendaItem.done.is_(False))
        .order_by(AgendaItem.position)))


def add_item(s: Session, item: AgendaItem) -> AgendaItem:
    s.add(item)
    return item


def remove_item(s: Session, item: AgendaItem) -> None:
    """Remove an item; the others of its agenda close up."""
    meeting_id, original = item.meeting_id, item.original
    s.delete(item)
    s.flush()
    renumber(items_of(s, meeting_id, original))


def renumber(items: list[AgendaItem]) -> None:
    for position, item in enumerate(items, 1):
        item.position = position


def forget_posts(s: Session, meeting_id: int, original: datetime) -> None:
    """A moved occurrence gets its call for items and final agenda again, for its new time."""
    s.execute(delete(AgendaPost).where(AgendaPost.meeting_id == meeting_id,
                                       AgendaPost.original == original))


def posts_done(s: Session, meeting_ids: list[int],
               since: datetime) -> list[tuple[int, datetime, str]]:
    """(meeting id, occurrence, kind) of the agenda posts made or skipped since `since`."""
    return [tuple(r) for r in s.execute(
        select(AgendaPost.meeting_id, AgendaPost.original, AgendaPost.kind)
        .where(AgendaPost.meeting_id.in_(meeting_ids), AgendaPost.sent_at >= since))]


def record_post(s: Session, meeting: Meeting, original: datetime, kind: str, now: datetime,
                *, late: bool, skipped: bool) -> None:
    s.add(AgendaPost(meeting_id=meeting.id, original=original, kind=kind, sent_at=now,
                     late=late, skipped=skipped))
