"""What happened at one occurrence of a meeting: who was marked present or absent, which
agenda items were carried away from it untreated, and the reading the minutes are made of."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    and_,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.storage.actions import Action
from bot.storage.agenda import AgendaItem
from bot.storage.models import Base, Room, UTCDateTime
from bot.storage.proposals import Proposal


class AttendanceMark(Base):
    """A person marked present (or absent) at one occurrence by a coordinator."""

    __tablename__ = "meeting_attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "original", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    original: Mapped[datetime] = mapped_column(DateTime(timezone=False))  # the occurrence
    user_id: Mapped[str] = mapped_column(String(255))
    present: Mapped[bool] = mapped_column(Boolean)
    marked_by: Mapped[str] = mapped_column(String(255))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CarriedItem(Base):
    """An agenda item carried, untreated, from one occurrence to another: the item itself
    moves, and this row keeps where it was, for the minutes of the occurrence it left."""

    __tablename__ = "agenda_carries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"),
                                            index=True)
    original: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    position: Mapped[int] = mapped_column(Integer)
    to_meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    to_original: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    carried_at: Mapped[datetime] = mapped_column(UTCDateTime)


# ---- attendance ------------------------------------------------------------------------

def marks(s: Session, meeting_id: int, original: datetime) -> dict[str, bool]:
    """user -> marked present (True) or absent (False) at one occurrence."""
    return dict(s.execute(select(AttendanceMark.user_id, AttendanceMark.present).where(
        AttendanceMark.meeting_id == meeting_id, AttendanceMark.original == original)
        .order_by(AttendanceMark.user_id)).all())


def mark(s: Session, meeting_id: int, original: datetime, users: Iterable[str], present: bool,
         by: str, now: datetime) -> None:
    known = {m.user_id: m for m in s.scalars(select(AttendanceMark).where(
        AttendanceMark.meeting_id == meeting_id, AttendanceMark.original == original))}
    for user in users:
        row = known.get(user)
        if row is None:
            s.add(AttendanceMark(meeting_id=meeting_id, original=original, user_id=user,
                                 present=present, marked_by=by, marked_at=now))
        else:
            row.present, row.marked_by, row.marked_at = present, by, now


# ---- carried items ---------------------------------------------------------------------

def record_carry(s: Session, item: AgendaItem, to_meeting_id: int, to_original: datetime,
                 now: datetime) -> None:
    """Before an item moves to another occurrence: remember the one it leaves."""
    s.add(CarriedItem(item_id=item.id, meeting_id=item.meeting_id, original=item.original,
                      position=item.position, to_meeting_id=to_meeting_id,
                      to_original=to_original, carried_at=now))


def carried_from(s: Session, meeting_id: int,
                 original: datetime) -> list[tuple[CarriedItem, AgendaItem]]:
    """The items carried away from an occurrence, in their order on its agenda."""
    rows = s.execute(select(CarriedItem, AgendaItem)
                     .join(AgendaItem, AgendaItem.id == CarriedItem.item_id)
                     .where(CarriedItem.meeting_id == meeting_id,
                            CarriedItem.original == original)
                     .order_by(CarriedItem.position, CarriedItem.id))
    return [(carry, item) for carry, item in rows]


# ---- what the minutes report -----------------------------------------------------------

def decisions(s: Session, room: Room, meeting_id: int, original: datetime,
              day: tuple[datetime, datetime]) -> list[Proposal]:
    """The proposals made at the occurrence, and the others of the room closed on its day
    (``day`` is [start, end) of that day in UTC)."""
    start, end = day
    return list(s.scalars(select(Proposal).where(Proposal.room_id == room.id, or_(
        and_(Proposal.meeting_id == meeting_id, Proposal.occurrence == original),
        and_(Proposal.closed_at >= start, Proposal.closed_at < end)))
        .order_by(Proposal.number)))


def actions_given(s: Session, room: Room, start: datetime, end: datetime) -> list[Action]:
    """The action items created during an occurrence (between its start and its end)."""
    return list(s.scalars(select(Action).where(
        Action.room_id == room.id, Action.created_at >= start, Action.created_at < end)
        .order_by(Action.number)))
