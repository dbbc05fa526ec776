"""The outbox: messages written in the transaction of the change they report, sent later.

`queue` is the one way a message gets here (see bot.outgoing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.outgoing import Outgoing
from bot.storage.models import Outbox, Room
from bot.storage.proposals import poll_sent


def queue(s: Session, messages: Iterable[Outgoing], now: datetime, *,
          verified_only_kinds: Sequence[str] = ()) -> list[Outbox]:
    """Write messages to the outbox, deciding who may decrypt each: in rooms of the kinds
    `verified_only_kinds` only devices their owners cross-signed (and the one device an
    answer is for).

    A message's key names it: the same message can never be queued twice, and its
    transaction id derives from the key. Messages queued to one room in one transaction (or
    one event's part of it, bot.storage.db.one_of_many) are sent in the order they were
    queued."""
    last = s.info.setdefault("outbox_last", {})  # the session lives for one transaction
    strict: dict[str, bool] = {}
    rows = []
    for m in messages:
        if m.room_id not in strict:
            strict[m.room_id] = bool(verified_only_kinds) and s.scalar(
                select(Room.kind).where(Room.matrix_id == m.room_id)) in verified_only_kinds
        device = m.device if strict[m.room_id] else None
        row = Outbox(room_id=m.room_id, event_type=m.event_type, content=m.content,
                     txn_id="cb" + hashlib.sha256(m.key.encode()).hexdigest()[:40],
                     created_at=now, attachment=m.attachment, ref=m.ref, urgent=m.urgent,
                     follows=last.get(m.room_id), verified_only=strict[m.room_id],
                     reader_user=device[0] if device else None,
                     reader_device=device[1] if device else None)
        s.add(row)
        s.flush()
        last[m.room_id] = row.id
        rows.append(row)
    return rows


def pending(s: Session, *, after: int = 0, limit: int = 500) -> list[Outbox]:
    """Messages not sent yet, queued after the message `after`, oldest first."""
    return list(s.scalars(select(Outbox).where(Outbox.sent_at.is_(None), Outbox.id > after)
                          .order_by(Outbox.id).limit(limit)))


def seen(s: Session, messages: Sequence[tuple[str, str]], now: datetime) -> None:
    """The bot's messages (transaction id, event id) are in their rooms' timelines: those
    not marked sent yet (a crash, or an answer lost on the way back) are, with their event
    ids. One read for all of them."""
    event_ids = dict(messages)
    rows = s.scalars(select(Outbox).where(Outbox.txn_id.in_(event_ids),
                                          Outbox.event_id.is_(None)))
    mark_sent(s, [(row, event_ids[row.txn_id]) for row in rows], now)


def mark_sent(s: Session, sent: Sequence[tuple[Outbox, str]], now: datetime) -> None:
    """Mark outbox rows sent, each with the event id the homeserver gave it ("" for one it
    refused for good); a message others need the event id of (a poll's start) leaves it
    with them, as sent messages are forgotten after a while."""
    if sent:  # one statement for the batch (an UPDATE by primary key, executed many times)
        s.execute(update(Outbox), [{"id": row.id, "sent_at": now, "event_id": event_id}
                                   for row, event_id in sent])
    for row, event_id in sent:
        if row.ref is not None:
            poll_sent(s, row.ref, event_id)
