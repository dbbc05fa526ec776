"""Action items (T<number> in their room): who does what by when, and the reminder to the
owner on the due date."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.storage.models import Base, Room, UTCDateTime


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


# ---- queries ---------------------------------------------------------------------------

def add_action(s: Session, action: Action) -> Action:
    s.add(action)
    return action


def get_action(s: Session, room: Room, number: int) -> Action | None:
    return s.scalar(select(Action).where(Action.room_id == room.id, Action.number == number))


def actions_of(s: Session, room: Room, *, done: bool) -> list[Action]:
    q = select(Action).where(Action.room_id == room.id, Action.done.is_(done))
    return list(s.scalars(q.order_by(Action.due.is_(None), Action.due, Action.number)))


_TO_REMIND = (Action.done.is_(False), Action.reminded_at.is_(None),
              Action.remind_at.is_not(None))


def next_reminder(s: Session) -> datetime | None:
    """When the next owner is to be reminded of an open action."""
    return s.scalar(select(func.min(Action.remind_at)).where(*_TO_REMIND))


def to_remind(s: Session, now: datetime, limit: int = 500) -> list[tuple[Action, Room]]:
    """Open actions whose owner is to be reminded by now, with their rooms."""
    return [tuple(r) for r in s.execute(
        select(Action, Room).join(Room, Room.id == Action.room_id)
        .where(*_TO_REMIND, Action.remind_at <= now).limit(limit))]
