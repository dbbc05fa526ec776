"""Failover: from a SIGKILL of the active instance to the standby's first answer.

Starts a local Synapse, two `coordbot run` in two working directories that share nothing but
a PostgreSQL database (a fresh schema on COORDBOT_TEST_POSTGRES), and a real encrypted
client. Each round kills the active instance, sends `!room info` at once, and measures until
the decrypted answer arrives (the standby has taken the lock, fenced the old holder, loaded the
keys from the database, signed in and synced); the killed instance then comes back as the
standby of the next round.

    python bench/failover.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.devserver import LocalSynapse  # noqa: E402
from harness.bot import BotProcess  # noqa: E402
from harness.client import TestClient, is_reply_to  # noqa: E402
from harness.dbs import database_url  # noqa: E402


async def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="coordbot-failover-"))
    hs = LocalSynapse(work / "hs")
    hs.start()
    with database_url("postgresql", work) as url:
        active = BotProcess(hs, work / "host1", database=url,
                            bot={"rate_limit_per_minute": 0}).start()
        await active.ready()
        standby = active.twin("host2", workdir=work / "host2").start()
        await standby.wait_log("standby: another instance is active")
        hs.register("chair", "chair-pw")
        client = await TestClient.login(hs, "chair", "chair-pw", work / "client")
        try:
            room = await client.create_encrypted_room(invite=[active.user_id])
            await client.wait_until_joined(room, active.user_id)
            await client.send_text(room, "!room setup workgroup Failover")
            took = []
            for n in range(rounds):
                since = client.cursor(room)
                active.kill()
                killed = time.perf_counter()
                sent = await client.send_text(room, "!room info")
                await client.wait_for_message(room, is_reply_to(sent), sender=active.user_id,
                                              since=since, msgtypes=("m.notice",), timeout=120)
                took.append(time.perf_counter() - killed)
                print(f"round {n + 1}: answered {took[-1]:.2f}s after the kill", flush=True)
                active, standby = standby, active.start()
                await standby.wait_log("standby: another instance is active")
            print(f"SIGKILL -> the standby's first answer: median {statistics.median(took):.2f}s,"
                  f" max {max(took):.2f}s over {rounds} rounds")
        finally:
            await client.close()
            active.stop()
            standby.stop()
            hs.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
