"""Runs the bot's due work in unit tests and reads what it queued, as a room would see it."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import due_work
from bot.storage.models import Outbox
from bot.storage.outbox import queue


def run_clock(chat, name: str | None = None) -> int:
    """One wake-up of the scheduler at chat.now: every due work (or the one called `name`)
    runs once, and what it says is queued; returns how many items they did."""
    done = 0
    for work in due_work(chat.config):
        if name is not None and work.name != name:
            continue

        def run(s, w=work):
            out = []
            n = w.run_due(s, chat.now, out)
            queue(s, out, chat.now)
            return n
        done += chat.db.call(run)
    return done


def next_due(chat, name: str):
    """When the due work called `name` next wants the clock to wake."""
    [work] = [w for w in due_work(chat.config) if w.name == name]
    return chat.db.call(lambda s: work.next_due(s, chat.now))


def posted(chat, prefix: str = "") -> list[str]:
    """Bodies of the bot's own posts (not replies to commands), oldest first."""
    def read(s):
        rows = s.scalars(select(Outbox).order_by(Outbox.id))
        return [r.content.get("body", "") for r in rows
                if "m.relates_to" not in r.content and r.event_type == "m.room.message"]
    return [b for b in chat.db.call(read) if b.startswith(prefix)]
