"""Many votes at once: 50 voters in 10 services on 20 open proposals, through real clients.

Starts a local Synapse and coordbot (`coordbot run`), an encrypted `tfl` room with a chair and
50 voters (5 representatives for each of 10 services), and 20 open proposals. Then every
voter casts its votes at once, half as answers in the native poll and half as `!vote`
commands, one vote per service and proposal, so that each proposal closes at its last vote.
Prints the votes cast and counted, and the time from each proposal's last vote to its
outcome, as the homeserver stamped both events (p50 / p99 / max; target: every vote counted,
outcome <= 2 s after the last vote).

Each voter has sent a message before (so its Megolm session is shared, as in a room where
people talk), and the voters stop syncing once they are set up: on a real deployment they run
elsewhere, and fifty syncing clients on this machine would measure their own load rather than
the bot's.

    python bench/votes.py [--voters 50] [--services 10] [--proposals 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bot.devserver import LocalSynapse  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from bot.storage.proposals import VoteRecord  # noqa: E402
from tests.support.bot import BotProcess  # noqa: E402
from tests.support.client import TestClient, is_reply_to  # noqa: E402

POLL_START = "org.matrix.msc3381.poll.start"
POLL_RESPONSE = "org.matrix.msc3381.poll.response"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def command(chair: TestClient, room: str, bot_id: str, text: str) -> str:
    resp = await chair.client.room_send(room, "m.room.message", {"msgtype": "m.text",
                                                                 "body": text},
                                        ignore_unverified_devices=True)
    await chair.wait_for_message(room, is_reply_to(resp.event_id),
        sender=bot_id, timeout=60)
    return resp.event_id


async def stop_syncing(client: TestClient) -> None:
    task, client._sync_task = client._sync_task, None
    if task:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def main(n_voters: int, n_services: int, n_proposals: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="coordbot-bench-votes-"))
    hs = LocalSynapse(work / "hs")
    hs.start()
    bot = BotProcess(hs, work / "bot", bot={"rate_limit_per_minute": 0}).start()
    clients: list[TestClient] = []
    try:
        await bot.ready()
        chair = await TestClient.login(hs, "chair", "chair-pw", work / "chair")
        clients.append(chair)
        t0 = time.perf_counter()
        voters = list(await asyncio.gather(*(
            TestClient.login(hs, f"voter{i}", f"voter{i}-pw", work / f"voter{i}")
            for i in range(n_voters))))
        clients.extend(voters)
        room = await chair.create_encrypted_room(invite=[bot.user_id] +
                                                 [v.user_id for v in voters])
        await chair.wait_until_joined(room, bot.user_id)
        await asyncio.gather(*(v.join(room) for v in voters))
        for v in voters:
            await chair.wait_until_joined(room, v.user_id, timeout=120)
        await chair.prepare_room_keys(room)
        await asyncio.gather(*(v.prepare_room_keys(room) for v in voters))
        await command(chair, room, bot.user_id, "!room setup tfl Bench taskforce")
        # Members of a real room have long shared their Megolm session: do it before timing,
        # ten at a time, so that the bot's one-time keys are replenished between batches.
        for i in range(0, n_voters, 10):
            await asyncio.gather(*(v.client.room_send(room, "m.room.message", {
                "msgtype": "m.text", "body": "hello"}, ignore_unverified_devices=True)
                for v in voters[i:i + 10]))
            await asyncio.sleep(2)
        await asyncio.gather(*(stop_syncing(v) for v in voters))
        service_of = {}
        for i, v in enumerate(voters):
            service_of[v.user_id] = f"Service{i % n_services:02d}"
            await command(chair, room, bot.user_id, f"!service {v.user_id} "
                                                    f"{service_of[v.user_id]}")
        polls = []
        for n in range(1, n_proposals + 1):
            await command(chair, room, bot.user_id, f"!propose Bench proposal {n} --deadline 1d")
            poll = await chair.wait_for_message(
                room, lambda e, n=n: e.source.get("type") == POLL_START and
                f"P{n}:" in e.source["content"].get("body", ""), sender=bot.user_id,
                msgtypes=None, timeout=60)
            polls.append(poll.event_id)
        print(f"set up in {time.perf_counter() - t0:.1f}s: {n_voters} voters, {n_services} "
              f"services, {n_proposals} open proposals")

        # one vote per (proposal, service), by the service's representatives in turn
        plan: dict[str, list[tuple[int, bool]]] = {v.user_id: [] for v in voters}
        reps = [[v for v in voters if service_of[v.user_id] == f"Service{k:02d}"]
                for k in range(n_services)]
        for p in range(n_proposals):
            for k in range(n_services):
                voter = reps[k][p % len(reps[k])]
                plan[voter.user_id].append((p, (p + k) % 2 == 0))  # half by poll
        cast: list[tuple[int, str]] = []  # (proposal index, vote event id)

        async def vote_all(v: TestClient) -> None:
            for p, by_poll in plan[v.user_id]:
                if by_poll:
                    content = {"m.relates_to": {"rel_type": "m.reference",
                                                "event_id": polls[p]},
                               POLL_RESPONSE: {"answers": ["agree"]}}
                    resp = await v.client.room_send(room, POLL_RESPONSE, content,
                                                    ignore_unverified_devices=True)
                else:
                    resp = await v.client.room_send(
                        room, "m.room.message", {"msgtype": "m.text",
                                                 "body": f"!vote P{p + 1} agree"},
                        ignore_unverified_devices=True)
                cast.append((p, resp.event_id))

        t1 = time.perf_counter()
        await asyncio.gather(*(vote_all(v) for v in voters))
        print(f"{len(cast)} votes cast in {time.perf_counter() - t1:.1f}s")
        outcomes = {}
        for n in range(1, n_proposals + 1):
            ev = await chair.wait_for_message(
                room, lambda e, n=n: f"P{n} ADOPTED" in e.source["content"].get("body", "")
                or f"P{n} REJECTED" in e.source["content"].get("body", "")
                or f"P{n}: NO CONSENSUS" in e.source["content"].get("body", ""),
                sender=bot.user_id, timeout=120)
            outcomes[n - 1] = ev
        print(f"all outcomes in {time.perf_counter() - t1:.1f}s after the first vote")

        stamps = {}
        for p, event_id in cast:
            resp = await chair.client.room_get_event(room, event_id)
            stamps.setdefault(p, []).append(resp.event.server_timestamp)
        lags = [(outcomes[p].server_timestamp - max(stamps[p])) / 1000 for p in outcomes]
        firsts = min(min(v) for v in stamps.values())
        lasts = max(max(v) for v in stamps.values())
        print(f"votes reached the homeserver over {(lasts - firsts) / 1000:.1f}s")
        adopted = sum("ADOPTED" in ev.body for ev in outcomes.values())
        db = Database(f"sqlite:///{bot.workdir / 'coordbot.db'}")
        counted = db.call(lambda s: s.scalar(select(func.count()).select_from(VoteRecord)))
        db.close()
        print(f"votes cast {len(cast)}, counted {counted}; adopted {adopted}/{n_proposals}")
        print(f"last vote -> outcome (homeserver time): p50 {statistics.median(lags):.2f}s  "
              f"p99 {pct(lags, 99):.2f}s  max {max(lags):.2f}s   (target <= 2 s)")
    finally:
        for c in clients:
            with contextlib.suppress(Exception):
                await c.close()
        bot.stop()
        hs.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--voters", type=int, default=50)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--proposals", type=int, default=20)
    a = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(a.voters, a.services, a.proposals))
