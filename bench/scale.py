"""coordbot at scale: 1 000 rooms set up, 10 000 meeting occurrences, 5 000 open votes.

Starts a local Synapse, creates the rooms (encrypted, the bot joined), fills the bot's database
through its own command dispatcher (as if the commands had been typed), then starts
`coordbot run` and prints: start → ready (first sync handled), peak RSS, and the median
`!meeting list` round trip from a real encrypted client, next to the same round trip against
a bot with an empty database and against the bare nio echo bot of `bench/latency.py`, in turns
in the same run (target ratio <= 1.15). Then the chair writes once in every room, so that the
bot holds a room key for each, and the size of its end-to-end encryption state in the
database is printed (bench/e2ee_size.py).

    python bench/scale.py [--rooms 1000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.e2ee_size import report  # noqa: E402
from bench.latency import round_trip  # noqa: E402
from bot.commands.dispatch import Dispatcher, Incoming  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.devserver import LocalSynapse  # noqa: E402
from bot.reply import render_reply  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from bot.storage.models import Outbox  # noqa: E402
from harness.bot import BotProcess  # noqa: E402
from harness.client import TestClient  # noqa: E402

SERVICES = ["Police", "OCAM", "Parquet", "VSSE", "SGRS", "Prévention"]


async def login(session: aiohttp.ClientSession, hs: str, user: str, pw: str) -> str:
    async with session.post(f"{hs}/_matrix/client/v3/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
            "password": pw}) as r:
        return (await r.json())["access_token"]


async def create_rooms(hs: str, n: int, chair: tuple[str, str],
                       bot: tuple[str, str]) -> list[str]:
    """Encrypted rooms created by the chair, the bot joined (the services' representatives
    exist in the bot's records; they need not be in the Matrix rooms for this bench)."""
    async with aiohttp.ClientSession() as session:
        tokens = {uid: await login(session, hs, uid, pw) for uid, pw in [chair, bot]}
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> str:
            async with sem:
                head = {"Authorization": f"Bearer {tokens[chair[0]]}"}
                async with session.post(f"{hs}/_matrix/client/v3/createRoom", headers=head,
                                        json={"name": f"Room {i}", "preset": "private_chat",
                                              "invite": [bot[0]],
                                              "initial_state": [{
                                                  "type": "m.room.encryption", "state_key": "",
                                                  "content": {"algorithm":
                                                              "m.megolm.v1.aes-sha2"}}]}) as r:
                    room = (await r.json())["room_id"]
                async with session.post(f"{hs}/_matrix/client/v3/join/{room}", headers={
                        "Authorization": f"Bearer {tokens[bot[0]]}"}) as r:
                    await r.read()
                return room

        return await asyncio.gather(*(one(i) for i in range(n)))


def fill(config_path: Path, rooms: list[str], chair: str, reps: list[str]) -> dict[str, int]:
    """Type the commands of 1 000 rooms' life into the bot's own dispatcher."""
    config = load_config(config_path)
    db = Database(config.storage.database)
    db.migrate()
    dispatcher = Dispatcher(config)
    dispatcher.rate.per_minute = 0
    members = frozenset([chair, *reps])
    now = datetime.now(UTC)
    ids = itertools.count()
    powers = {chair: 100}

    def say(room: str, sender: str, body: str) -> str:
        prefix, text = dispatcher.split_prefix(body)
        inc = Incoming(room_id=room, event_id=f"$fill{next(ids)}", sender=sender,
                       prefix=prefix, text=text, sent_at=now, power=powers.get(sender, 0),
                       members=members)
        out = db.call(lambda s: dispatcher.handle(s, inc, now))
        return render_reply(out.reply, out.language)[0] if out else ""

    year = now.year + 1
    for n, room in enumerate(rooms):
        say(room, chair, f"!room setup workgroup Group {n}")
        say(room, chair, "!room set language en")
        for rep, service in zip(reps, SERVICES, strict=False):
            say(room, chair, f"!service {rep} {service}")
        # 10 occurrences a room: a weekly series of ten
        text = say(room, chair, f"!meeting add {year}-01-{(n % 28) + 1:02d} 10:00 Meeting "
                   f"--repeat FREQ=WEEKLY;COUNT=10 --place Town hall")
        assert "M1" in text, text
        # one open proposal a room with five of its six services voted: 5 votes a room
        say(room, reps[0], "!propose Shared feedback sheet --deadline 50w")
        for rep in reps[:5]:
            assert "votes agree" in say(room, rep, "!vote P1 agree")
    db.call(lambda s: s.query(Outbox).update({Outbox.sent_at: now, Outbox.event_id: "$x"}))
    db.close()
    return {"rooms": len(rooms), "occurrences": len(rooms) * 10, "open votes": len(rooms) * 5}


def peak_rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) / 1024


async def median_round_trips(client: TestClient, targets: list[tuple[str, str, str]],
                             rounds: int) -> list[float]:
    """Median round trip to each (room, bot, text), taken in turns so that all see the same
    moments of the homeserver and the machine."""
    times: list[list[float]] = [[] for _ in targets]
    for n in range(rounds + 3):
        for (room, bot_id, body), kept in zip(targets, times, strict=True):
            took = await round_trip(client, room, bot_id, body)
            if n >= 3:  # the first three warm up key sharing
                kept.append(took)
    return [statistics.median(kept) for kept in times]


async def room_key_in_every_room(client: TestClient, rooms: list[str],
                                 bot: BotProcess) -> None:
    """The chair writes once in each room: the bot receives and keeps one room key a room."""
    for room in rooms:
        await client.send_text(room, "Bonjour")
    deadline = time.monotonic() + 600
    while bot.sql("SELECT count(*) FROM e2ee_megolm_sessions")[0][0] < len(rooms):
        assert time.monotonic() < deadline, "the bot did not receive every room key"
        await asyncio.sleep(1)


async def main(n_rooms: int, rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="coordbot-scale-"))
    hs = LocalSynapse(work / "hs")
    hs.start()
    chair = ("@chair:localhost", "chair-pw")
    hs.register("chair", chair[1])
    reps = [(hs.register(f"rep{i}", f"rep{i}-pw"), f"rep{i}-pw") for i in range(6)]
    big = BotProcess(hs, work / "big", bot={"rate_limit_per_minute": 0, "language": "en"})
    small = BotProcess(hs, work / "small", bot={"rate_limit_per_minute": 0, "language": "en"})
    echo_id = hs.register("echo", "echo-pw")
    (work / "echo-store").mkdir()
    echo = subprocess.Popen([sys.executable, str(ROOT / "bench" / "echo_bot.py"), hs.base_url,
                             echo_id, "echo-pw", str(work / "echo-store")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t = time.perf_counter()
    rooms = await create_rooms(hs.base_url, n_rooms, chair, (big.user_id, big.password))
    print(f"created {len(rooms)} encrypted rooms in {time.perf_counter() - t:.0f}s")
    t = time.perf_counter()
    figures = fill(big.config_path, rooms, chair[0], [u for u, _ in reps])
    print(f"database filled in {time.perf_counter() - t:.0f}s: {figures}")

    client = await TestClient.login(hs, "chair", chair[1], work / "client")
    try:
        started = time.perf_counter()
        big.start()
        await big.ready(timeout=600)
        ready = time.perf_counter() - started
        small.start()
        await small.ready()
        room = await client.create_encrypted_room(invite=[small.user_id])
        await client.wait_until_joined(room, small.user_id)
        await client.send_text(room, "!room setup workgroup Small")
        # the same listing as in the big bot's room, so that only the scale differs
        await client.send_text(room, f"!meeting add {datetime.now(UTC).year + 1}-01-01 10:00 "
                                     "Meeting --repeat FREQ=WEEKLY;COUNT=10 --place Town hall")
        echo_room = await client.create_encrypted_room(invite=[echo_id])
        await client.wait_until_joined(echo_room, echo_id)
        await asyncio.sleep(2)
        big_rtt, small_rtt, echo_rtt = await median_round_trips(
            client, [(rooms[0], big.user_id, "!meeting list"),
                     (room, small.user_id, "!meeting list"),
                     (echo_room, echo_id, "echo !meeting list")], rounds)
        rss = peak_rss_mb(big.proc.pid)
        first = re.search(r"parsing\) took ([\d.]+)s, handled in ([\d.]+)s",
                          big.log())
        print(f"start -> ready (first sync handled): {ready:.1f}s, of which the first sync "
              f"(homeserver, then nio parsing it) {first.group(1)}s and the bot's handling "
              f"of it {first.group(2)}s   "
              "(target: ready <= 5 s after the first sync)")
        print(f"peak RSS: {rss:.0f} MB   (target <= 150 MB)")
        print(f"!meeting list median: {big_rtt:.0f} ms at scale, {small_rtt:.0f} ms empty; "
              f"ratio {big_rtt / small_rtt:.2f}   (target <= 1.15)")
        print(f"bench/latency.py's baseline, the bare nio echo bot, in the same turns: "
              f"{echo_rtt:.0f} ms; ratio at scale {big_rtt / echo_rtt:.2f}, "
              f"empty {small_rtt / echo_rtt:.2f}")
        await room_key_in_every_room(client, rooms, big)
        print(f"end-to-end encryption state in the database, {len(rooms)} rooms:")
        print(report(big.database))
    finally:
        await client.close()
        big.stop()
        small.stop()
        echo.terminate()
        echo.wait()
        hs.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.rooms, args.rounds))
