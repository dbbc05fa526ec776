"""Agenda items (each on one occurrence of a meeting), action items, and the agenda posts made
(the call for items and the final agenda, each once per occurrence)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

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

    @property
    def short_id(self) -> str:
        return f"A{self.number}"


class Action(Base):
    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("room_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # the room's short id T<number>
    owner: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(String(500))
    due: Mapped[date | None] = mapped_column(Date, nullable=True)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    done_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def short_id(self) -> str:
        return f"T{self.number}"


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


def renumber(items: list[AgendaItem]) -> None:
    for position, item in enumerate(items, 1):
        item.position = position


def get_action(s: Session, room: Room, number: int) -> Action | None:
    return s.scalar(select(Action).where(Action.room_id == room.id, Action.number == number))


def actions_of(s: Session, room: Room, *, done: bool) -> list[Action]:
    q = select(Action).where(Action.room_id == room.id, Action.done.is_(done))
    return list(s.scalars(q.order_by(Action.due.is_(None), Action.due, Action.number)))


def forget_posts(s: Session, meeting_id: int, original: datetime) -> None:
    """A moved occurrence gets its call for items and final agenda again, for its new time."""
    s.execute(delete(AgendaPost).where(AgendaPost.meeting_id == meeting_id,
                                       AgendaPost.original == original))
