"""Kill storms: SIGKILL the bot at random moments while proposals are voted on and close.

Four services vote on a stream of proposals, by `!vote` and by answering the native poll, and
change their minds (agree → object with a reason → agree, or the other way round), so that a
lost vote would change the outcome. Then the last service's vote completes the electorate and
closes the proposal, or (for some) the deadline passes. Meanwhile the bot is killed and
restarted again and again.

Afterwards every command is answered exactly once, every proposal has exactly one outcome,
the one its last votes call for, and its poll is ended exactly once, and `!proposal` shows
every service's last vote exactly; all of it checked again after 30 s of quiet, so that a
late duplicate is seen too. CI: 4 kills on SQLite; COORDBOT_HEAVY=1: 50 kills on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from harness.bot import BotProcess
from harness.client import TestClient, is_reply_to
from harness.dbs import database_url
from harness.seen import (
    answer_poll,
    from_bot,
    outcomes,
    poll_ends,
    poll_starts,
    replies,
    state_of,
    votes_on_record,
)
from tests.integration.test_foundation import ask

pytestmark = pytest.mark.integration
HEAVY = os.environ.get("COORDBOT_HEAVY") == "1"
KILLS = 50 if HEAVY else 4
DATABASE = "postgresql" if HEAVY else "sqlite"
QUIET = 30  # seconds without anything new before counting again
SERVICES = ("Police", "OCAM", "Parquet", "VSSE")
CLOSER = "VSSE"  # votes last: completes the electorate
AT_ONCE = 3  # proposals being voted on at the same time
STATES = {"ADOPTED": "adopted", "REJECTED": "rejected", "NO CONSENSUS": "no consensus"}


@dataclass
class Plan:
    """One proposal's votes, as the services will cast them, and what must come of it."""

    number: int
    rule: str
    by_deadline: bool
    steps: dict[str, list[tuple[str, str | None, bool]]]  # service -> (choice, reason, poll)
    poll: str = ""  # the poll's start event id
    deadline_set: bool = False
    commands: list[str] = field(default_factory=list)  # event ids of its !vote commands

    @property
    def last(self) -> dict[str, tuple[str, str | None]]:
        return {sv: steps[-1][:2] for sv, steps in self.steps.items() if steps}

    @property
    def outcome(self) -> str:
        if any(choice == "object" for choice, _ in self.last.values()):
            return "REJECTED"
        if not self.by_deadline or self.rule == "no-objection":  # 3 of 4 voted: enough
            return "ADOPTED"
        return "NO CONSENSUS"


def plan(rng: random.Random, number: int) -> Plan:
    by_deadline = rng.random() < 0.3
    rule = rng.choice(["unanimity", "no-objection"]) if by_deadline else "unanimity"
    steps: dict[str, list[tuple[str, str | None, bool]]] = {}
    for service in SERVICES[:3]:
        reason = f"{service} needs the file of case {number}"
        agree = ("agree", None, rng.random() < 0.5)
        objection = ("object", reason, False)  # a reason goes with a command only
        if rng.random() < 0.8:  # comes round: a lost last vote would leave the objection
            steps[service] = [agree, objection, ("agree", None, rng.random() < 0.5)]
        else:  # objects in the end: a lost last vote would leave its agreement
            steps[service] = [objection, agree, ("object", reason + " after all", False)]
    closing = rng.choice(["agree", "abstain"])
    steps[CLOSER] = [] if by_deadline else [(closing, None, rng.random() < 0.5)]
    return Plan(number, rule, by_deadline, steps)


async def test_kill_storm_while_proposals_close(synapse, make_client, tmp_path):
    rng = random.Random(int(os.environ.get("COORDBOT_SEED", "13")))
    with database_url(DATABASE, tmp_path) as url:
        bot = BotProcess(synapse, tmp_path / "bot", database=url,
                         bot={"rate_limit_per_minute": 0}).start()
        await bot.ready()
        chair = await make_client("chair")
        voters = {sv: await make_client(sv.lower()) for sv in SERVICES}
        room = await chair.create_encrypted_room(
            invite=[bot.user_id] + [c.user_id for c in voters.values()])
        for c in voters.values():
            await c.join(room)
        await chair.wait_until_joined(room, bot.user_id)
        for c in voters.values():
            await chair.wait_until_joined(room, c.user_id)
        await ask(chair, room, bot, "!room setup tfl TFL Storm")
        for service, c in voters.items():
            await ask(chair, room, bot, f"!service {c.user_id} {service}")
        await storm(rng, bot, chair, voters, room)
        bot.stop()


async def storm(rng: random.Random, bot: BotProcess, chair: TestClient,
                voters: dict[str, TestClient], room: str) -> None:
    plans: list[Plan] = []
    proposals: list[str] = []  # event ids of the !propose commands
    turns = {sv: asyncio.Lock() for sv in SERVICES}  # one send at a time per client
    killing = asyncio.Event()
    creating = asyncio.Lock()

    async def cast(plan: Plan, service: str) -> None:
        client = voters[service]
        for choice, reason, by_poll in plan.steps[service]:
            async with turns[service]:
                if by_poll:
                    await answer_poll(client, room, plan.poll, choice)
                else:
                    text = f"!vote P{plan.number} {choice}" + (f" {reason}" if reason else "")
                    plan.commands.append(await client.send_text(room, text))

    async def run(plan: Plan) -> None:
        rule = "" if plan.rule == "unanimity" else f" --rule {plan.rule}"
        async with creating:  # one at a time: the proposal's number is the next one
            asked = await chair.send_text(room, f"!propose Storm decision {plan.number}"
                                                f" --deadline 1d{rule}")
            proposals.append(asked)
            reply = await chair.wait_for_message(room, is_reply_to(asked),
                                                 sender=bot.user_id, timeout=120)
        assert f"Proposal P{plan.number} is open" in reply.body, reply.body
        await chair.wait_until(lambda: poll_starts(chair, room, bot.user_id, plan.number),
                               timeout=120, what=f"poll of P{plan.number}")
        plan.poll = poll_starts(chair, room, bot.user_id, plan.number)[0].event_id
        await asyncio.gather(*(cast(plan, sv) for sv in SERVICES[:3]))
        if plan.by_deadline:  # the deadline passes in a moment, maybe while the bot is down
            await asyncio.sleep(0.5)
            when = datetime.now(UTC) + timedelta(seconds=rng.uniform(0.5, 3))
            await asyncio.to_thread(bot.move_deadline, plan.number, when)
        else:  # the last service's vote completes the electorate: closed at once
            await cast(plan, CLOSER)

    async def kill() -> None:
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            bot.kill()
            await asyncio.sleep(rng.uniform(0.0, 1.0))
            bot.start()
            await bot.ready()
        killing.set()

    async def propose() -> None:
        running: set[asyncio.Task] = set()
        while not killing.is_set() or len(plans) < 3:
            if len(running) >= AT_ONCE:
                done, running = await asyncio.wait(running, return_when="FIRST_COMPLETED")
                for task in done:
                    task.result()
                continue
            plans.append(plan(rng, len(plans) + 1))
            running.add(asyncio.create_task(run(plans[-1])))
            await asyncio.sleep(0)  # proposals are numbered in the order they are planned
        for task in running:
            await task

    await asyncio.gather(kill(), propose())
    commands = proposals + [e for p in plans for e in p.commands]

    def missing() -> list[str]:
        return [f"answer to {e}" for e in commands if not replies(chair, room, bot.user_id, e)] \
            + [f"outcome of P{p.number}" for p in plans
               if not outcomes(chair, room, bot.user_id, p.number)] \
            + [f"end of P{p.number}'s poll" for p in plans
               if not poll_ends(chair, room, bot.user_id, p.poll)]

    # deadlines are noticed at the next round of due work (at worst 30 s later)
    try:
        await chair.wait_until(lambda: not missing(), timeout=120, what="everything")
    except AssertionError:
        raise AssertionError(f"never came: {missing()}; plans: {plans}") from None
    for p in plans:
        status, _ = await ask(chair, room, bot, f"!proposal P{p.number}")
        assert votes_on_record(status.body) == p.last, (p, status.body)
        assert state_of(status.body) == STATES[p.outcome], (p, status.body)
    check_once(bot, chair, room, commands, plans)
    await asyncio.sleep(QUIET)
    check_once(bot, chair, room, commands, plans)
    votes = sum(len(steps) for p in plans for steps in p.steps.values())
    print(f"{KILLS} kills on {DATABASE}: {len(plans)} proposals closed, {votes} votes cast "
          f"({sum(len(p.commands) for p in plans)} by command), each command answered once, "
          f"each outcome and poll end once, every service's last vote on record")


def check_once(bot: BotProcess, chair: TestClient, room: str, commands: list[str],
               plans: list[Plan]) -> None:
    twice = {e: [(r.event_id, r.body[:80]) for r in replies(chair, room, bot.user_id, e)]
             for e in commands if len(replies(chair, room, bot.user_id, e)) != 1}
    assert not twice, f"answered other than once: {twice}"
    for p in plans:
        assert outcomes(chair, room, bot.user_id, p.number) == [p.outcome], p
        assert len(poll_starts(chair, room, bot.user_id, p.number)) == 1, p
        assert len(poll_ends(chair, room, bot.user_id, p.poll)) == 1, p
    prompts = [e for e in from_bot(chair, room, bot.user_id) if "could not decrypt" in
               getattr(e, "body", "")]
    assert not prompts, "the bot lost a message's key"
