"""Rooms whose kind requires devices their owners cross-signed (`bot.require_cross_signed_devices`).

In such rooms the dispatcher refuses commands from other devices, answers to poll responses
from them are not counted, and the transport shares the room key only with cross-signed
devices. A refusal is the one message such a device may read: its row in the outbox names
the device, and the transport lets that device, and no other, have the key of that message.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from bot.config import Config
from bot.i18n import _ as N_
from bot.matrix.events import RoomEvent
from bot.reply import Mention, Reply
from bot.storage import repo

log = logging.getLogger(__name__)
# outbox content key naming the device (user, device id) a refusal is for; never sent
DELIVER_TO = "coordbot.deliver_to_device"


def requires_verified(config: Config, s: Session, room_id: str) -> bool:
    kinds = config.bot.require_cross_signed_devices
    if not kinds:
        return False
    room = repo.get_room(s, room_id)
    return room is not None and room.kind in kinds


def for_sender_device(content: dict, ev: RoomEvent) -> dict:
    """Mark an answer to `ev` as readable by the sender's device even if it is not
    cross-signed (it only matters in rooms that require cross-signed devices, where every
    answer to such a device is a refusal)."""
    if ev.device_id and ev.device_verified is not True:
        content[DELIVER_TO] = [ev.sender, ev.device_id]
    return content


def take_device(content: dict) -> tuple[str, str] | None:
    """Remove the delivery mark from content about to be sent; the device it named."""
    target = content.pop(DELIVER_TO, None)
    return (target[0], target[1]) if isinstance(target, list) and len(target) == 2 else None


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
    return reply, repo.get_room(s, ev.room_id).language
