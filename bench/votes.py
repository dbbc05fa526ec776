"""A vote storm, beside the bare nio echo bot under the same storm in the same run.

Starts a local Synapse, coordbot (`coordbot run`) and the echo bot of `bench/latency.py`. In an
encrypted `tfl` room, a chair and 50 voters (5 representatives for each of 10 services) have
20 open proposals; in an encrypted room of its own, the echo bot has the same voters. Then
every voter casts its votes at once, half as answers in the native poll and half as `!vote`
commands, one vote per service and proposal, so that each proposal closes at its last vote;
after each vote the same voter sends `echo P<n> <service>` to the echo bot, so both bots get
the same number of events from the same clients at the same moments.

A proposal's votes and the echo messages of the same proposal form a group; for each bot the
bench takes, per group, the time from the group's last message to the bot's answer that
completes it (coordbot: the outcome; the echo bot: its last reply in the group), as the
homeserver stamped both events, and prints p50 / p99 / max. The intake is the events a bot
handled per second: the group messages over the time from the first of them to the bot's last
answer (homeserver time). Targets: coordbot's p99 <= 1.5x the echo bot's, its intake >= 0.8x;
the exit status is 0 when both are met. For coordbot it also prints where its share goes: from
a group's last message to the bot claiming it (the bot's clock, from its database), and from
there to the answer.

Each voter has sent a message to both rooms before (so its Megolm sessions are shared, as in
rooms where people talk), and the voters stop syncing once they are set up: on a real
deployment they run elsewhere, and fifty syncing clients on this machine would measure their
own load rather than the bots'.

    python bench/votes.py [--voters 50] [--services 10] [--proposals 20]
                          [--database sqlite|postgresql] [--profile FILE]

`--database postgresql` uses a fresh schema at COORDBOT_TEST_POSTGRES (as the tests do).
`--profile FILE` records coordbot during the storm with py-spy (`pip install py-spy`), all
threads and idle time, as collapsed stacks; `python bench/storm_profile.py FILE` sums them up.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.storm import Side, profiled, report, split, stamps, versions  # noqa: E402
from bot.devserver import LocalSynapse  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from bot.storage.models import ProcessedEvent  # noqa: E402
from bot.storage.proposals import VoteRecord  # noqa: E402
from harness.bot import BotProcess  # noqa: E402
from harness.client import TestClient, close_all, is_reply_to, replied_to  # noqa: E402
from harness.dbs import database_url, postgres_problem  # noqa: E402

POLL_START = "org.matrix.msc3381.poll.start"
POLL_RESPONSE = "org.matrix.msc3381.poll.response"


async def command(chair: TestClient, room: str, bot_id: str, text: str) -> str:
    resp = await chair.client.room_send(room, "m.room.message", {"msgtype": "m.text",
                                                                 "body": text},
                                        ignore_unverified_devices=True)
    await chair.wait_for_message(room, is_reply_to(resp.event_id),
        sender=bot_id, timeout=60)
    return resp.event_id


async def commands(chair: TestClient, room: str, bot_id: str, texts: list[str]) -> None:
    sent = [await say(chair, room, "m.room.message", {"msgtype": "m.text", "body": text})
            for text in texts]
    for event_id in sent:
        await chair.wait_for_message(room, is_reply_to(event_id), sender=bot_id, timeout=120)


async def say(client: TestClient, room: str, event_type: str, content: dict) -> str:
    resp = await client.client.room_send(room, event_type, content,
                                         ignore_unverified_devices=True)
    return resp.event_id


async def share_sessions(voters: list[TestClient], rooms: list[str]) -> None:
    """Members of a real room have long shared their Megolm session: do it before timing,
    ten at a time, so that the bots' one-time keys are replenished between batches."""
    for i in range(0, len(voters), 10):
        await asyncio.gather(*(say(v, room, "m.room.message", {"msgtype": "m.text",
                                                               "body": "hello"})
                               for v in voters[i:i + 10] for room in rooms))
        await asyncio.sleep(2)


async def main(n_voters: int, n_services: int, n_proposals: int, database: str,
               profile: str | None) -> bool:
    """Whether the targets were met."""
    work = Path(tempfile.mkdtemp(prefix="coordbot-bench-votes-"))
    print(f"versions: {versions()}; coordbot on {database.split(':', 1)[0]}")
    hs = LocalSynapse(work / "hs")
    hs.start()
    bot = BotProcess(hs, work / "bot", bot={"rate_limit_per_minute": 0},
                     database=database).start()
    echo_id = hs.register("echo", "echo-pw")
    (work / "echo-store").mkdir()
    echo = subprocess.Popen([sys.executable, str(ROOT / "bench" / "echo_bot.py"), hs.base_url,
                             echo_id, "echo-pw", str(work / "echo-store")],
                            stdout=(work / "echo.log").open("wb"), stderr=subprocess.STDOUT)
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
        everyone = [v.user_id for v in voters]
        room = await chair.create_encrypted_room(invite=[bot.user_id, *everyone])
        echo_room = await chair.create_encrypted_room(invite=[echo_id, *everyone])
        await chair.wait_until_joined(room, bot.user_id)
        await chair.wait_until_joined(echo_room, echo_id)
        for r in (room, echo_room):
            await asyncio.gather(*(v.join(r) for v in voters))
        for v in voters:
            for r in (room, echo_room):
                await chair.wait_until_joined(r, v.user_id, timeout=120)
        for r in (room, echo_room):
            await chair.prepare_room_keys(r)
            await asyncio.gather(*(v.prepare_room_keys(r) for v in voters))
        await command(chair, room, bot.user_id, "!room setup tfl Bench taskforce")
        await share_sessions(voters, [room, echo_room])
        await command(chair, echo_room, echo_id, "echo warm-up")
        await asyncio.gather(*(v.stop_syncing() for v in voters))
        # the set-up commands go at once; the bot answers them in order
        service_of = {v.user_id: f"Service{i % n_services:02d}" for i, v in enumerate(voters)}
        await commands(chair, room, bot.user_id, [f"!service {user} {service}" for user, service
                                                  in service_of.items()])
        await commands(chair, room, bot.user_id, [f"!propose Bench proposal {n} --deadline 1d"
                                                  for n in range(1, n_proposals + 1)])
        polls = []
        for n in range(1, n_proposals + 1):
            poll = await chair.wait_for_message(
                room, lambda e, n=n: e.source.get("type") == POLL_START and
                f"P{n}:" in e.source["content"].get("body", ""), sender=bot.user_id,
                msgtypes=None, timeout=60)
            polls.append(poll.event_id)
        print(f"set up in {time.perf_counter() - t0:.1f}s: {n_voters} voters, {n_services} "
              f"services, {n_proposals} open proposals; the echo bot in a room of its own")

        # one vote per (proposal, service), by the service's representatives in turn
        plan: dict[str, list[tuple[int, bool]]] = {v.user_id: [] for v in voters}
        reps = [[v for v in voters if service_of[v.user_id] == f"Service{k:02d}"]
                for k in range(n_services)]
        for p in range(n_proposals):
            for k in range(n_services):
                voter = reps[k][p % len(reps[k])]
                plan[voter.user_id].append((p, (p + k) % 2 == 0))  # half by poll
        coord = Side("coordbot", "last vote -> outcome")
        plain = Side("echo bot", "last message -> answer")

        async def vote_all(v: TestClient) -> None:
            for p, by_poll in plan[v.user_id]:
                if by_poll:
                    vote = await say(v, room, POLL_RESPONSE, {
                        "m.relates_to": {"rel_type": "m.reference", "event_id": polls[p]},
                        POLL_RESPONSE: {"answers": ["agree"]}})
                else:
                    vote = await say(v, room, "m.room.message", {
                        "msgtype": "m.text", "body": f"!vote P{p + 1} agree"})
                coord.cast.append((p, vote))
                plain.cast.append((p, await say(v, echo_room, "m.room.message", {
                    "msgtype": "m.text", "body": f"echo P{p + 1} {service_of[v.user_id]}"})))

        with profiled(bot.proc.pid, profile):
            t1 = time.perf_counter()
            await asyncio.gather(*(vote_all(v) for v in voters))
            print(f"{len(coord.cast)} votes and {len(plain.cast)} echo messages cast in "
                  f"{time.perf_counter() - t1:.1f}s")
            outcomes = await outcomes_of(chair, room, bot.user_id, n_proposals)
            group_of = {e: p for p, e in plain.cast}
            replies = {}

            def echoed() -> bool:
                for ev in chair.messages(echo_room):
                    if ev.sender == echo_id and replied_to(ev) in group_of:
                        replies[replied_to(ev)] = ev.server_timestamp
                return len(replies) == len(group_of)

            await chair.wait_until(echoed, timeout=180, what="every answer of the echo bot")
            print(f"all answers in {time.perf_counter() - t1:.1f}s after the first vote")
        for p, ev in outcomes.items():
            coord.answers[p] = ev.server_timestamp
        for event_id, at in replies.items():
            group = group_of[event_id]
            plain.answers[group] = max(plain.answers.get(group, 0), at)

        stamp = {**await stamps(chair, room, [e for _, e in coord.cast]),
                 **await stamps(chair, echo_room, [e for _, e in plain.cast])}
        firsts = min(stamp.values())
        lasts = max(stamp.values())
        print(f"the {len(stamp)} messages reached the homeserver over "
              f"{(lasts - firsts) / 1000:.1f}s ({len(stamp) * 1000 / (lasts - firsts):.0f}/s)")
        adopted = sum("ADOPTED" in ev.body for ev in outcomes.values())
        db = Database(database)
        counted = db.call(lambda s: s.scalar(select(func.count()).select_from(VoteRecord)))
        handled = dict(db.call(lambda s: s.execute(select(
            ProcessedEvent.event_id, ProcessedEvent.handled_at)).all()))
        db.close()
        print(f"votes cast {len(coord.cast)}, counted {counted}; adopted {adopted}/{n_proposals}; "
              f"echo answers {len(replies)}/{len(plain.cast)}")
        met = report(coord, plain, stamp)
        split(coord, stamp, {e: at.timestamp() * 1000 for e, at in handled.items()})
    finally:
        await close_all(clients)
        bot.stop()
        echo.terminate()
        echo.wait()
        hs.stop()
    return met


async def outcomes_of(chair: TestClient, room: str, bot_id: str, n: int) -> dict:
    outcomes = {}
    for p in range(n):
        outcomes[p] = await chair.wait_for_message(
            room, lambda e, p=p: any(f"P{p + 1}{end}" in e.source["content"].get("body", "")
                                     for end in (" ADOPTED", " REJECTED", ": NO CONSENSUS")),
            sender=bot_id, timeout=180)
    return outcomes


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--voters", type=int, default=50)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--proposals", type=int, default=20)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--profile", metavar="FILE")
    a = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if a.database == "postgresql" and (problem := postgres_problem()):
        sys.exit(problem)
    with database_url(a.database, Path(tempfile.mkdtemp(prefix="coordbot-bench-db-"))) as url:
        met = asyncio.run(main(a.voters, a.services, a.proposals, url, a.profile))
    sys.exit(0 if met else 1)
