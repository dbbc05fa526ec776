"""Tables of the end-to-end encryption store (what matrix-nio keeps), one set per device.

Pickles are sealed (bot.storage.sealing); ids, public keys and room ids are not secret.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base

_ACCOUNT = "e2ee_accounts.id"


class E2EEAccount(Base):
    """The Olm account of one device of the bot."""

    __tablename__ = "e2ee_accounts"
    __table_args__ = (UniqueConstraint("user_id", "device_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    device_id: Mapped[str] = mapped_column(String(255))
    shared: Mapped[bool] = mapped_column(Boolean)  # its identity keys are published
    pickle: Mapped[bytes] = mapped_column(LargeBinary)


class E2EEOlmSession(Base):
    __tablename__ = "e2ee_olm_sessions"
    account_id: Mapped[int] = mapped_column(ForeignKey(_ACCOUNT, ondelete="CASCADE"),
                                            primary_key=True)
    session_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    sender_key: Mapped[str] = mapped_column(String(255))
    created: Mapped[str] = mapped_column(String(40))  # nio's local wall-clock time, ISO
    pickle: Mapped[bytes] = mapped_column(LargeBinary)


class E2EEMegolmSession(Base):
    """An inbound Megolm session: the key to other people's messages in a room."""

    __tablename__ = "e2ee_megolm_sessions"
    account_id: Mapped[int] = mapped_column(ForeignKey(_ACCOUNT, ondelete="CASCADE"),
                                            primary_key=True)
    session_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))
    sender_key: Mapped[str] = mapped_column(String(255))
    signing_key: Mapped[str] = mapped_column(String(255))
    forwarded_chain: Mapped[list] = mapped_column(JSON)
    pickle: Mapped[bytes] = mapped_column(LargeBinary)


class E2EEDevice(Base):
    """Another device's published keys, and the trust the bot gives it."""

    __tablename__ = "e2ee_devices"
    account_id: Mapped[int] = mapped_column(ForeignKey(_ACCOUNT, ondelete="CASCADE"),
                                            primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    display_name: Mapped[str] = mapped_column(Text, default="")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    keys: Mapped[dict] = mapped_column(JSON)
    trust: Mapped[int] = mapped_column(Integer, default=0)  # nio's TrustState value


class E2EERoom(Base):
    """A room known to be encrypted (it never goes back to plain text)."""

    __tablename__ = "e2ee_rooms"
    account_id: Mapped[int] = mapped_column(ForeignKey(_ACCOUNT, ondelete="CASCADE"),
                                            primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)


class E2EEKeyRequest(Base):
    """A room key the bot asked other devices for and has not received yet."""

    __tablename__ = "e2ee_key_requests"
    account_id: Mapped[int] = mapped_column(ForeignKey(_ACCOUNT, ondelete="CASCADE"),
                                            primary_key=True)
    request_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(255))
    room_id: Mapped[str] = mapped_column(String(255))
    algorithm: Mapped[str] = mapped_column(String(100))
