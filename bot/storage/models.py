"""SQLAlchemy models: the bot's durable state. Changes go through Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if dialect.name != "sqlite" else \
            value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Room(Base):
    """A Matrix room bound to a coordination body by `!room setup`."""

    __tablename__ = "rooms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matrix_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    reminders: Mapped[str] = mapped_column(String(200))  # canonical offsets, e.g. "1w,1d,1h"
    agenda_deadline: Mapped[int] = mapped_column(Integer)  # seconds before a meeting
    set_up_by: Mapped[str] = mapped_column(String(255))
    set_up_at: Mapped[datetime] = mapped_column(UTCDateTime)

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="room", cascade="all, delete-orphan")
    representatives: Mapped[list[Representative]] = relationship(
        back_populates="room", cascade="all, delete-orphan")


class RoleAssignment(Base):
    """An explicit role; without one, the role follows the user's power level."""

    __tablename__ = "room_roles"
    __table_args__ = (UniqueConstraint("room_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    room: Mapped[Room] = relationship(back_populates="roles")


class Representative(Base):
    """The service a member represents in a room: one vote per service."""

    __tablename__ = "room_services"
    __table_args__ = (UniqueConstraint("room_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255))
    service: Mapped[str] = mapped_column(String(120))
    room: Mapped[Room] = relationship(back_populates="representatives")


class Counter(Base):
    """Per-room sequence for short ids (M1, A1, P1, T1)."""

    __tablename__ = "counters"
    __table_args__ = (UniqueConstraint("room_id", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(1))
    last: Mapped[int] = mapped_column(Integer, default=0)


class ProcessedEvent(Base):
    """Every Matrix event the bot acted on: the guarantee that none is handled twice."""

    __tablename__ = "processed_events"
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime)


class State(Base):
    """Small named values: the sync token, and the like."""

    __tablename__ = "bot_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Outbox(Base):
    """A message to send, written in the same transaction as the change it reports.

    Sending uses a transaction id derived from the row, so a retry after a crash is
    de-duplicated by the homeserver instead of being posted twice.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255), index=True)
    event_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[dict] = mapped_column(JSON)
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    txn_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    event_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    # sent before the room's other queued messages: outcomes, poll ends, due reminders
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # the message queued just before this one in the same room and transaction: this one
    # is sent only after it (a reply, then the outcome it led to, then the poll's end)
    follows: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                                nullable=True)
    # what the message is about, for callers that need its event id later (e.g. a poll)
    ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # who may decrypt it, decided when it is queued: only devices their owners cross-signed
    # (in a room whose kind requires them), and then also the one device an answer is for
    verified_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reader_user: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reader_device: Mapped[str | None] = mapped_column(String(255), nullable=True)

    @property
    def device(self) -> tuple[str, str] | None:
        """The one device besides the cross-signed ones that may read it."""
        if self.reader_user is None or self.reader_device is None:
            return None
        return self.reader_user, self.reader_device


class Secret(Base):
    """A named secret, sealed (bot.storage.sealing): the saved login, cross-signing keys."""

    __tablename__ = "bot_secrets"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class InstanceLease(Base):
    """Which instance may write: the epoch is raised by each instance that becomes active,
    and every transaction of the active one checks that it is still its own."""

    __tablename__ = "instance_lease"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(String(255))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
