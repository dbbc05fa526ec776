"""Rooms whose kind requires devices their owners cross-signed (`bot.require_cross_signed_devices`).

In such rooms the dispatcher refuses commands from other devices, answers to poll responses
from them are not counted, and the bot's messages are queued readable by cross-signed devices
only (bot.storage.outbox.queue). A refusal is the one message such a device may read: it is
queued naming the device, which alone gets the key of that message besides.
"""

from __future__ import annotations

import logging

from bot.config import Config
from bot.i18n import _ as N_
from bot.matrix.events import RoomEvent
from bot.reply import Mention, Reply
from bot.storage import rooms
from bot.storage.db import Session

log = logging.getLogger(__name__)


def requires_verified(config: Config, s: Session, room_id: str) -> bool:
    kinds = config.bot.require_cross_signed_devices
    if not kinds:
        return False
    room = rooms.get_room(s, room_id)
    return room is not None and room.kind in kinds


def response_refusal(config: Config, s: Session, ev: RoomEvent) -> tuple[Reply, str] | None:
    """For a non-command event (a poll answer) from a device not cross-signed, in a room that
    requires them: the answer telling the sender it was not counted, and its language."""
    if ev.device_verified is True or not requires_verified(config, s, ev.room_id):
        return None
    log.info("not counting %s in %s: device %s of %s is not cross-signed", ev.event_id,
             ev.room_id, ev.device_id, ev.sender)
    reply = Reply([N_("{user}, your answer was not counted: your device is not verified by "
                      "its owner (cross-signing), and in this room only verified devices may "
                      "act. Verify this session in your client and try again.",
                      user=Mention(ev.sender))], mentions=(ev.sender,))
    return reply, rooms.get_room(s, ev.room_id).language
