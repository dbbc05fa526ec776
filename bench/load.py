"""Everyday load: 10 users in 10 rooms send commands at once for 60 s, beside a bare nio echo
bot under the same load in the same run.

Starts a local Synapse, coordbot (`coordbot run`) and the echo bot (bench/echo_bot.py). Ten
encrypted `tfl` rooms hold coordbot and the ten users (each represents a service; an eleventh
service never votes, so proposals stay open); ten more rooms hold the echo bot and the same
users. Each user, in turn: a coordbot command in one of its rooms (a mix of writes — a vote,
a change of mind with a reason, an agenda item — and reads — the agenda, the proposals, one
proposal, the meetings, the services), then a message to the echo bot, each time waiting for
the answer. Prints, for each bot, p50 / p99 / max of command → answer as the homeserver
stamped both events, the commands answered per second, errors (no answer in 30 s, an
apology, an answer twice) and the ratios (targets: p99 <= 1.25, p50 <= 1.10, no error,
nothing lost).

The users only send; one observer client, in every room, sees the answers (twenty syncing
clients on a small machine would measure themselves rather than the bots).

    python bench/load.py [--users 10] [--rooms 10] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.devserver import LocalSynapse  # noqa: E402
from harness.bot import BotProcess  # noqa: E402
from harness.client import TestClient, close_all, is_reply_to, replied_to  # noqa: E402

READS = ["!agenda", "!proposals", "!proposal P1", "!meeting list", "!services"]
ANSWER_WAIT = 30  # seconds before a command without an answer counts as an error
TARGETS = {"p50": 1.10, "p99": 1.25}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass
class Side:
    """One bot's rooms and what its users asked of it."""

    name: str
    bot_id: str
    rooms: list[str]
    asked: list[tuple[str, str]] = field(default_factory=list)  # (room, event id)
    errors: list[str] = field(default_factory=list)


def command(rng: random.Random, user: int, n: int) -> str:
    kind = rng.random()
    if kind < 0.2:
        return f"!vote P1 {rng.choice(['agree', 'abstain'])}"
    if kind < 0.3:
        return f"!vote P1 object the file of user {user} is not complete"
    if kind < 0.45:
        return f"!agenda add Item {n} of user {user} --minutes 5"
    return rng.choice(READS)


async def send(client: TestClient, room: str, body: str) -> str:
    resp = await client.client.room_send(room, "m.room.message",
                                         {"msgtype": "m.text", "body": body},
                                         ignore_unverified_devices=True)
    return resp.event_id


async def ask(observer: TestClient, client: TestClient, side: Side, room: str,
              body: str) -> None:
    event_id = await send(client, room, body)
    side.asked.append((room, event_id))
    try:
        reply = await observer.wait_for_message(room, is_reply_to(event_id),
                                                sender=side.bot_id, timeout=ANSWER_WAIT)
    except AssertionError:
        side.errors.append(f"no answer in {ANSWER_WAIT}s to {body!r}")
        return
    if "Error reference" in getattr(reply, "body", ""):
        side.errors.append(f"{body!r} failed: {reply.body}")


def latencies(observer: TestClient, side: Side) -> list[float]:
    """Command → answer as the homeserver stamped them, in ms; errors for answers twice."""
    out = []
    for room, event_id in side.asked:
        events = observer.messages(room)
        asked = next((e for e in events if e.event_id == event_id), None)
        answers = [e for e in events if e.sender == side.bot_id and replied_to(e) == event_id]
        if len(answers) > 1:
            side.errors.append(f"answered {len(answers)} times: {event_id}")
        if asked is not None and answers:
            out.append(answers[0].server_timestamp - asked.server_timestamp)
    return out


async def main(n_users: int, n_rooms: int, seconds: float) -> int:
    work = Path(tempfile.mkdtemp(prefix="coordbot-bench-load-"))
    hs = LocalSynapse(work / "hs")
    hs.start()
    echo_id = hs.register("echo", "echo-password")
    (work / "echo-store").mkdir()
    echo = subprocess.Popen([sys.executable, str(ROOT / "bench" / "echo_bot.py"), hs.base_url,
                             echo_id, "echo-password", str(work / "echo-store")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bot = BotProcess(hs, work / "bot", bot={"rate_limit_per_minute": 0}).start()
    clients: list[TestClient] = []
    try:
        await bot.ready()
        observer = await TestClient.login(hs, "observer", "observer-pw", work / "observer")
        clients.append(observer)
        users = list(await asyncio.gather(*(
            TestClient.login(hs, f"user{i}", f"user{i}-pw", work / f"user{i}")
            for i in range(n_users))))
        clients.extend(users)
        ids = [u.user_id for u in users]
        coord = Side("coordbot", bot.user_id, [])
        plain = Side("echo bot", echo_id, [])
        for side in (coord, plain):
            for _ in range(n_rooms):
                room = await observer.create_encrypted_room(invite=[side.bot_id, *ids])
                await observer.wait_until_joined(room, side.bot_id, timeout=60)
                await asyncio.gather(*(u.join(room) for u in users))
                side.rooms.append(room)
        for room in coord.rooms:
            await setup_room(observer, bot.user_id, room, ids)
        # warm up: every user's room key reaches every member, in every room
        for side in (coord, plain):
            for room in side.rooms:
                await observer.prepare_room_keys(room)
                for u in users:
                    await u.prepare_room_keys(room)
                    await ask(observer, u, side, room, "!help" if side is coord else "echo hi")
            side.asked.clear()
            side.errors.clear()
        await asyncio.gather(*(u.stop_syncing() for u in users))
        print(f"set up: {n_users} users, {n_rooms} rooms for each bot", flush=True)

        rng = random.Random(5)
        end = time.monotonic() + seconds
        started = time.monotonic()

        async def user_loop(i: int, u: TestClient) -> None:
            n = 0
            while time.monotonic() < end:
                n += 1
                await ask(observer, u, coord, rng.choice(coord.rooms), command(rng, i, n))
                await ask(observer, u, plain, rng.choice(plain.rooms), f"echo {i} {n}")

        await asyncio.gather(*(user_loop(i, u) for i, u in enumerate(users)))
        elapsed = time.monotonic() - started
        await asyncio.sleep(5)  # late or duplicate answers arrive too
        report(observer, coord, plain, elapsed)
        return 0 if not coord.errors and not plain.errors else 1
    finally:
        await close_all(clients)
        bot.stop()
        echo.terminate()
        echo.wait()
        hs.stop()


async def setup_room(observer: TestClient, bot_id: str, room: str, users: list[str]) -> None:
    async def say(text: str) -> None:
        event_id = await observer.send_text(room, text)
        await observer.wait_for_message(room, is_reply_to(event_id), sender=bot_id,
                                        timeout=60)

    await say("!room setup tfl Load test")
    await say(f"!service {observer.user_id} Chair")  # never votes: proposals stay open
    for n, user in enumerate(users):
        await say(f"!service {user} Service {n}")
    await say("!propose Load test proposal --deadline 4w")
    await say("!meeting add 2099-01-07 14:00 Load test meeting")


def report(observer: TestClient, coord: Side, plain: Side, elapsed: float) -> None:
    figures = {}
    for side in (coord, plain):
        ms = latencies(observer, side)
        answered = len(ms)
        lost = len(side.asked) - answered
        figures[side.name] = {"p50": pct(ms, 50), "p99": pct(ms, 99)} if ms else {}
        print(f"{side.name:9} {len(side.asked):5} commands, {answered / elapsed:5.1f}/s answered"
              f"   p50 {pct(ms, 50):6.0f} ms   p99 {pct(ms, 99):6.0f} ms   max {max(ms):6.0f} "
              f"ms   errors {len(side.errors)}   lost {lost}")
        for error in side.errors[:5]:
            print(f"    {error}")
    for key, target in TARGETS.items():
        ratio = figures["coordbot"][key] / max(figures["echo bot"][key], 1)
        verdict = "ok" if ratio <= target else "OVER"
        print(f"ratio {key}  {ratio:5.2f}   (target <= {target:.2f}: {verdict})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.users, args.rooms, args.seconds)))
