"""1 000 meeting reminders due within one minute across 200 encrypted rooms.

Starts a local Synapse and coordbot (`coordbot run`); a real encrypted client creates 200 rooms,
invites the bot and stays in all of them. The rooms, and then 1 000 one-off meetings (five per
room, reminder offset 1 minute, due times spread evenly over one minute), are written straight
into the bot's database for speed; everything after that is the real path: the bot's clock
finds the reminders, queues them, and sends them encrypted through Synapse, where the client
receives and decrypts them and counts what arrives.

Before the meetings are written, one command per room warms up the bot's encryption session
there, as in a bot that has been running for a while.

Prints reminders delivered and duplicates, and lateness (event time stamped by the homeserver
minus the reminder's due time) p50 / p99 / max; also when the client received them.
Target: every reminder exactly once, p99 <= 1 s late.

    python bench/reminders.py [--rooms 200] [--per-room 5] [--spread 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bot.devserver import LocalSynapse  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from bot.storage.meetings import Meeting, SentReminder  # noqa: E402
from bot.storage.models import Outbox, Room  # noqa: E402
from harness.bot import BotProcess  # noqa: E402
from harness.client import TestClient  # noqa: E402

TZ = "Europe/Brussels"
TITLE = re.compile(r"^Reminder: M\d+ — Bench (\d+)")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def replied(client: TestClient, room: str, bot_id: str) -> bool:
    return any(e.sender == bot_id for e in client.messages(room))


async def main(n_rooms: int, per_room: int, spread: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="coordbot-bench-reminders-"))
    hs = LocalSynapse(work / "hs")
    hs.start()
    bot = BotProcess(hs, work / "bot", bot={"rate_limit_per_minute": 0}).start()
    client = None
    try:
        await bot.ready()
        client = await TestClient.login(hs, "chair", "chair-pw", work / "chair")
        t0 = time.perf_counter()
        rooms: list[str] = []
        while len(rooms) < n_rooms:
            rooms += await asyncio.gather(*(client.create_encrypted_room(invite=[bot.user_id])
                                            for _ in range(min(20, n_rooms - len(rooms)))))
        for room in rooms:
            await client.wait_until_joined(room, bot.user_id, timeout=120)
        print(f"{n_rooms} encrypted rooms with the bot in {time.perf_counter() - t0:.1f}s")

        db = Database(f"sqlite:///{bot.workdir / 'coordbot.db'}")
        now = datetime.now(UTC)

        def set_up_rooms(s) -> None:
            for n, matrix_id in enumerate(rooms):
                s.add(Room(matrix_id=matrix_id, kind="tfl", name=f"Bench {n}", language="en",
                           timezone=TZ, reminders="1m", agenda_deadline=2 * 86400,
                           set_up_by=client.user_id, set_up_at=now))

        db.call(set_up_rooms)
        t1 = time.perf_counter()
        for room in rooms:  # warm up: the bot shares its room key with the client
            await client.send_text(room, "!meeting list")
        for room in rooms:
            await client.wait_until(lambda r=room: replied(client, r, bot.user_id),
                                    timeout=180, what="warm-up reply")
        print(f"warm-up replies in all rooms in {time.perf_counter() - t1:.1f}s")

        total = n_rooms * per_room
        first_due = datetime.now(UTC) + timedelta(seconds=20)
        due = {i: first_due + timedelta(seconds=spread * i / total) for i in range(total)}

        def add_meetings(s) -> None:
            ids = dict(s.execute(select(Room.matrix_id, Room.id)).all())
            for i, when in due.items():
                start = (when + timedelta(minutes=1)).astimezone(ZoneInfo(TZ))
                s.add(Meeting(room_id=ids[rooms[i % n_rooms]], number=i // n_rooms + 1,
                              title=f"Bench {i}", start=start.replace(tzinfo=None), tz=TZ,
                              duration=3600, place="Bench hall", rule=None, sequence=0,
                              uid=f"{uuid.uuid4()}@coordbot", created_by=client.user_id,
                              created_at=datetime.now(UTC), cancelled=False,
                              last_end=start.astimezone(UTC) + timedelta(hours=1)))

        db.call(add_meetings)
        cursors = {room: client.cursor(room) for room in rooms}
        await client.send_text(rooms[0], "!meeting list")  # a command wakes the clock
        print(f"{total} meetings written; reminders due from {first_due:%H:%M:%S} "
              f"over {spread:g}s")

        events: dict[str, tuple[str, int, int, float]] = {}  # id -> room, i, stamp, received

        def scan() -> int:
            for room in rooms:
                fresh = client.messages(room)[cursors[room]:]
                cursors[room] += len(fresh)
                for ev in fresh:
                    m = TITLE.match(getattr(ev, "body", "") or "")
                    if ev.sender == bot.user_id and m:
                        events.setdefault(ev.event_id, (room, int(m.group(1)),
                                                        ev.server_timestamp, time.time()))
            return len({(room, i) for room, i, _, _ in events.values()})

        deadline = time.monotonic() + 20 + spread + 120
        while scan() < total and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(10)  # anything sent twice would arrive by now
        scan()
        per_reminder = Counter((room, i) for room, i, _, _ in events.values())
        delivered = len(per_reminder)
        duplicates = sum(n - 1 for n in per_reminder.values())
        lateness = [ts / 1000 - due[i].timestamp() for _, i, ts, _ in events.values()]
        client_lag = [got - due[i].timestamp() for _, i, _, got in events.values()]
        rows = db.call(lambda s: s.execute(select(func.count(), func.sum(SentReminder.late))
                                           .where(SentReminder.skipped.is_(False))).one())
        queued = {}
        for body, created in db.call(lambda s: [(o.content.get("body", ""), o.created_at)
                                                for o in s.scalars(select(Outbox))]):
            m = TITLE.match(body)
            if m:
                queued[int(m.group(1))] = created.timestamp() - due[int(m.group(1))].timestamp()
        db.close()
        print(f"reminders due {total}, delivered {delivered}, duplicates {duplicates}, "
              f"bot records {rows[0]} sent ({rows[1] or 0} marked late)")
        if lateness:
            print(f"lateness at the homeserver: p50 {statistics.median(lateness):.3f}s  "
                  f"p99 {pct(lateness, 99):.3f}s  max {max(lateness):.3f}s   (target p99 <= 1 s)")
            print(f"received by the client:     p50 {statistics.median(client_lag):.3f}s  "
                  f"p99 {pct(client_lag, 99):.3f}s  max {max(client_lag):.3f}s")
            lag = list(queued.values())
            print(f"queued by the bot's clock:  p50 {statistics.median(lag):.3f}s  "
                  f"p99 {pct(lag, 99):.3f}s  max {max(lag):.3f}s")
            stamps = sorted(ts for _, _, ts, _ in events.values())
            span = (stamps[-1] - stamps[0]) / 1000
            print(f"homeserver accepted {len(stamps)} reminders in {span:.1f}s "
                  f"({len(stamps) / max(span, 0.001):.1f}/s; due at {total / spread:.1f}/s)")
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
        bot.stop()
        hs.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--per-room", type=int, default=5)
    parser.add_argument("--spread", type=float, default=60.0)
    a = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(a.rooms, a.per_room, a.spread))
