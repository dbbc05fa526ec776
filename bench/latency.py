"""Round trip of `!help` through coordbot vs a message through a bare nio echo bot.

Starts a local Synapse, coordbot (`coordbot run`) and the echo bot, both in encrypted rooms,
and from a real encrypted client measures, alternating, N round trips to each (send → the
decrypted reply arrives). Prints median and p90 of each and their ratio (target <= 1.15).

    python bench/latency.py [--rounds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.devserver import LocalSynapse  # noqa: E402
from harness.bot import BotProcess  # noqa: E402
from harness.client import TestClient, is_reply_to  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def round_trip(client: TestClient, room: str, bot_id: str, body: str) -> float:
    since = client.cursor(room)
    start = time.perf_counter()
    event_id = await client.client.room_send(room, "m.room.message",
                                             {"msgtype": "m.text", "body": body},
                                             ignore_unverified_devices=True)
    sent = getattr(event_id, "event_id", None)
    await client.wait_for_message(
        room, is_reply_to(sent), sender=bot_id, since=since,
        msgtypes=("m.notice",), timeout=30)
    return (time.perf_counter() - start) * 1000


async def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="coordbot-latency-"))
    hs = LocalSynapse(work / "hs")
    hs.start()
    echo_pw = "echo-password"
    echo_id = hs.register("echo", echo_pw)
    echo = subprocess.Popen([sys.executable, str(ROOT / "bench" / "echo_bot.py"), hs.base_url,
                             echo_id, echo_pw, str(work / "echo-store")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (work / "echo-store").mkdir(exist_ok=True)
    bot = BotProcess(hs, work / "bot", bot={"rate_limit_per_minute": 0})
    bot.start()
    client = None
    try:
        await bot.ready()
        client = await TestClient.login(hs, "measurer", "measurer-pw", work / "client")
        bot_room = await client.create_encrypted_room(invite=[bot.user_id])
        echo_room = await client.create_encrypted_room(invite=[echo_id])
        await client.wait_until_joined(bot_room, bot.user_id)
        await client.wait_until_joined(echo_room, echo_id)
        for room in (bot_room, echo_room):
            await client.prepare_room_keys(room)
        # warm up both paths (key sharing, first Olm sessions)
        for _ in range(3):
            await round_trip(client, bot_room, bot.user_id, "!help")
            await round_trip(client, echo_room, echo_id, "echo warm-up")
        coord, plain = [], []
        for i in range(rounds):
            coord.append(await round_trip(client, bot_room, bot.user_id, "!help"))
            plain.append(await round_trip(client, echo_room, echo_id, f"echo {i}"))
        cm, cp = statistics.median(coord), pct(coord, 90)
        em, ep = statistics.median(plain), pct(plain, 90)
        print(f"rounds: {rounds} each, alternating")
        print(f"coordbot !help   median {cm:7.1f} ms   p90 {cp:7.1f} ms")
        print(f"echo bot         median {em:7.1f} ms   p90 {ep:7.1f} ms")
        print(f"ratio            median {cm / em:7.2f}      p90 {cp / ep:7.2f}   (target <= 1.15)")
    finally:
        if client:
            await client.close()
        bot.stop()
        echo.terminate()
        echo.wait()
        hs.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    asyncio.run(main(parser.parse_args().rounds))
