"""The one way out: every message the bot sends is an `Outgoing` first.

Command handlers (through their context), due work and event handlers produce them;
`bot.storage.outbox.queue` writes them to the outbox in the transaction of the change they
report, deciding there who may decrypt each one; `bot.outbox.OutboxSender` sends the rows
through `bot.matrix.sending.Sender`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.reply import Attachment, Reply, notice_content

MESSAGE = "m.room.message"


@dataclass(frozen=True)
class Outgoing:
    room_id: str
    content: dict  # the Matrix event's content
    # names the message uniquely ("reply:$event"): it can never be queued twice, and its
    # transaction id derives from it, so a send repeated after a crash is de-duplicated
    key: str
    event_type: str = MESSAGE
    # sent before the room's other waiting messages (outcomes, poll ends, due reminders);
    # otherwise in the order queued
    urgent: bool = False
    # what the message is about, for whoever needs its event id once sent (a poll's start)
    ref: str | None = None
    # who may decrypt it besides the room's members' devices as the room allows: the one
    # device (user, device id), not cross-signed, that an answer is for; it matters only in
    # rooms that let only cross-signed devices read
    device: tuple[str, str] | None = None
    attachment: bytes | None = None  # a file, uploaded when sent (`content` describes it)


def notice(room_id: str, reply: Reply, language: str, *, key: str,
           reply_to: str | None = None, mentions: tuple[str, ...] = (),
           urgent: bool = False, device: tuple[str, str] | None = None) -> Outgoing:
    """What the bot says, as an `m.notice` in the room's language (a reply to `reply_to`)."""
    content = notice_content(reply, language, reply_to=reply_to, mentions=mentions)
    return Outgoing(room_id, content, key, urgent=urgent, device=device)


class RoomSetting(Protocol):
    """A room as stored: where it is, and the language the bot speaks there."""

    matrix_id: str
    language: str


def to_room(room: RoomSetting, reply: Reply, *, key: str, urgent: bool = False,
            mentions: tuple[str, ...] = ()) -> Outgoing:
    """What the bot says to a room of its own accord (a reminder, an outcome)."""
    return notice(room.matrix_id, reply, room.language, key=key, urgent=urgent,
                  mentions=mentions)


def file(room_id: str, attachment: Attachment, *, key: str, reply_to: str) -> Outgoing:
    """A file (a calendar), in answer to `reply_to`."""
    content = {"msgtype": "m.file", "body": attachment.filename,
               "filename": attachment.filename,
               "info": {"mimetype": attachment.mimetype, "size": len(attachment.data)},
               "m.relates_to": {"m.in_reply_to": {"event_id": reply_to}}}
    return Outgoing(room_id, content, key, attachment=attachment.data)


class Queued(Protocol):
    """A message as the outbox holds it, with who may decrypt it decided when it was queued."""

    room_id: str
    event_type: str
    content: dict
    txn_id: str
    attachment: bytes | None
    verified_only: bool  # only devices their owners cross-signed (and `device`)
    device: tuple[str, str] | None


class SendFailed(Exception):
    """The homeserver refused a message (`permanent`: it never will take it)."""

    def __init__(self, code: str | None, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code

    @property
    def permanent(self) -> bool:
        return self.code in ("M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN_ROOM", "M_TOO_LARGE")
