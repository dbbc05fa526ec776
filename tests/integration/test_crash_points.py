"""The bot ends abruptly at each named crash point in turn (bot.faults), and is started again.

Each row of the table names a crash point (and which passage of it) and a scenario that
passes it: a last vote by command or by poll that closes a proposal, a proposal opened (its
poll answered while the bot is down), a deadline, a meeting reminder, a final agenda, a
standby taking over. After every row the bot comes back; at the end, after a quiet moment,
what the members saw is counted: every command answered once; every outcome, poll start,
poll end, reminder and final agenda exactly once; every service's last vote on record.

CI: every crash point on SQLite, the ones inside transactions and the standby's on
PostgreSQL; COORDBOT_HEAVY=1: every row on both.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot import faults
from bot.storage.db import Database
from bot.storage.models import Room
from harness.bot import BotProcess
from harness.client import TestClient, is_reply_to
from harness.dbs import database_url
from harness.seen import (
    answer_poll,
    body,
    from_bot,
    outcomes,
    poll_ends,
    poll_starts,
    replies,
    votes_on_record,
)
from tests.integration.test_foundation import ask

pytestmark = pytest.mark.integration
HEAVY = os.environ.get("COORDBOT_HEAVY") == "1"
ZONE = ZoneInfo("Europe/Brussels")


@dataclass
class Stage:
    """The bot, its rooms and members, and everything the members must see exactly once."""

    bot: BotProcess
    chair: TestClient
    police: TestClient
    ocam: TestClient
    votes_room: str
    reminders_room: str
    agenda_room: str
    proposals: int = 0
    meetings: dict[str, int] = field(default_factory=dict)  # room -> meetings added
    commands: list[tuple[str, str]] = field(default_factory=list)  # (room, event id)
    outcomes: dict[int, str] = field(default_factory=dict)  # proposal -> outcome
    votes: dict[int, dict[str, tuple[str, None]]] = field(default_factory=dict)
    reminders: list[str] = field(default_factory=list)  # meeting titles
    agendas: list[str] = field(default_factory=list)
    standby: BotProcess | None = None

    async def command(self, client: TestClient, room: str, text: str) -> str:
        """A command whose answer is waited for (the bot runs)."""
        reply, event_id = await ask(client, room, self.bot, text, timeout=60)
        self.commands.append((room, event_id))
        return reply.body

    async def propose(self) -> int:
        self.proposals += 1
        n = self.proposals
        said = await self.command(self.chair, self.votes_room, f"!propose Crash {n}")
        assert f"Proposal P{n} is open" in said, said
        await self.chair.wait_until(lambda: poll_starts(self.chair, self.votes_room,
                                                        self.bot.user_id, n))
        return n

    def poll(self, n: int) -> str:
        return poll_starts(self.chair, self.votes_room, self.bot.user_id, n)[0].event_id

    async def meeting(self, room: str, title: str) -> int:
        self.meetings[room] = self.meetings.get(room, 0) + 1
        said = await self.command(self.chair, room, f"!meeting add 2099-06-01 10:00 {title}")
        assert "scheduled" in said, said
        return self.meetings[room]

    async def closed(self, n: int) -> None:
        room, bot = self.votes_room, self.bot.user_id
        await self.chair.wait_until(lambda: outcomes(self.chair, room, bot, n) and
                                    poll_ends(self.chair, room, bot, self.poll(n)),
                                    timeout=90, what=f"outcome and poll end of P{n}")

    async def quiet(self) -> None:
        """Until the bot has marked every message it queued sent: nothing of an earlier
        step passes a crash point armed now."""
        await self.bot.all_sent(timeout=30)

    def says(self, room: str, *words: str) -> Callable[[], bool]:
        return lambda: any(all(w in body(e) for w in words)
                           for e in from_bot(self.chair, room, self.bot.user_id))


@dataclass(frozen=True)
class Scenario:
    """Something the bot does that passes crash points: `prepare` runs with the bot up;
    then either the bot is armed and `act` does it, or (`at_start`) the bot is stopped,
    `act` makes it due, and the bot is started armed; `while_down` runs once it crashed,
    before it is started again; `done` waits until its effects are seen."""

    prepare: Callable[[Stage], Awaitable[object]]
    act: Callable[[Stage, object], Awaitable[None]]
    done: Callable[[Stage, object], Awaitable[None]]
    at_start: bool = False
    while_down: Callable[[Stage, object], Awaitable[None]] | None = None


# ---- scenarios -------------------------------------------------------------------------

async def _one_vote_cast(st: Stage) -> int:
    n = await st.propose()
    await st.command(st.police, st.votes_room, f"!vote P{n} agree")
    return n


async def _last_vote_by_command(st: Stage, n: int) -> None:
    st.outcomes[n], st.votes[n] = "ADOPTED", {"Police": ("agree", None),
                                              "OCAM": ("agree", None)}
    st.commands.append((st.votes_room, await st.ocam.send_text(st.votes_room,
                                                              f"!vote P{n} agree")))


async def _last_vote_by_poll(st: Stage, n: int) -> None:
    st.outcomes[n], st.votes[n] = "ADOPTED", {"Police": ("agree", None),
                                              "OCAM": ("agree", None)}
    await answer_poll(st.ocam, st.votes_room, st.poll(n), "agree")


async def _nothing(st: Stage) -> None:
    return None


async def _open_a_proposal(st: Stage, _: object) -> None:
    st.proposals += 1
    n = st.proposals
    st.outcomes[n], st.votes[n] = "ADOPTED", {"Police": ("agree", None),
                                              "OCAM": ("agree", None)}
    st.commands.append((st.votes_room, await st.chair.send_text(st.votes_room,
                                                               f"!propose Crash {n}")))


async def _answer_while_down(st: Stage, _: object) -> None:
    """The poll start reached the homeserver: members answer it while the bot is down."""
    n = st.proposals
    await st.chair.wait_until(lambda: poll_starts(st.chair, st.votes_room, st.bot.user_id, n),
                              what=f"poll of P{n}")
    for client in (st.police, st.ocam):
        await answer_poll(client, st.votes_room, st.poll(n), "agree")


async def _proposal_closed(st: Stage, _: object) -> None:
    await st.closed(st.proposals)


async def _closed(st: Stage, n: int) -> None:
    await st.closed(n)


async def _deadline_passed(st: Stage, n: int) -> None:
    st.outcomes[n], st.votes[n] = "NO CONSENSUS", {"Police": ("agree", None)}
    # passed, after the vote: when the bot is back
    await asyncio.to_thread(st.bot.move_deadline, n, datetime.now(UTC))


def _meeting_soon(room_of: Callable[[Stage], str], title: str):
    """A meeting added long ago that starts in a moment: what falls due before it (a
    reminder one minute before, the agenda closing one minute before) is due now."""
    async def prepare(st: Stage) -> tuple[int, str]:
        room = room_of(st)
        name = f"{title} {st.meetings.get(room, 0) + 1}"
        return await st.meeting(room, name), name

    async def act(st: Stage, made: tuple[int, str]) -> None:
        _, name = made
        (st.reminders if title == "Reminder" else st.agendas).append(name)
        await asyncio.to_thread(st.bot.move_meeting, name,
                                datetime.now(ZONE) + timedelta(seconds=40))

    async def done(st: Stage, made: tuple[int, str]) -> None:
        words = ("Reminder:",) if title == "Reminder" else ("Final agenda",)
        await st.chair.wait_until(st.says(room_of(st), *words, made[1]), timeout=90,
                                  what=f"{words[0]} of {made[1]}")

    return Scenario(prepare, act, done, at_start=True)


async def _standby_ready(st: Stage) -> None:
    if st.standby is None:
        st.standby = st.bot.twin(f"standby{len(st.commands)}").start()
        await st.standby.wait_log("standby: another instance is active")


async def _active_killed(st: Stage, _: object) -> None:
    """The active instance dies; a command comes while the standby takes over."""
    st.bot.kill()
    st.bot, st.standby = st.standby, None
    st.commands.append((st.votes_room, await st.police.send_text(st.votes_room,
                                                                "!services")))


async def _answered(st: Stage, _: object) -> None:
    room, event_id = st.commands[-1]
    await st.chair.wait_for_message(room, is_reply_to(event_id), sender=st.bot.user_id,
                                    timeout=90)


async def _down_when_asked(st: Stage, _: object) -> None:
    """(SQLite: no standby) a command comes while the bot is down; it starts armed."""
    st.commands.append((st.votes_room, await st.police.send_text(st.votes_room,
                                                                "!services")))


SCENARIOS = {
    "last vote by command": Scenario(_one_vote_cast, _last_vote_by_command, _closed),
    "last vote by poll": Scenario(_one_vote_cast, _last_vote_by_poll, _closed),
    "proposal opened, answered while down": Scenario(
        _nothing, _open_a_proposal, _proposal_closed, while_down=_answer_while_down),
    "deadline": Scenario(_one_vote_cast, _deadline_passed, _closed, at_start=True),
    "reminder": _meeting_soon(lambda st: st.reminders_room, "Reminder"),
    "final agenda": _meeting_soon(lambda st: st.agenda_room, "Agenda"),
    "standby takes over": Scenario(_standby_ready, _active_killed, _answered),
    "start": Scenario(_nothing, _down_when_asked, _answered, at_start=True),
}

# (crash point[:passage], scenario, what a crash there leaves behind, in the default run)
ROWS = [
    ("event.claimed", "last vote by command", "vote read again, counted once", True),
    ("event.committed", "last vote by poll", "outcome and poll end queued, sent after", True),
    ("proposal.closed", "last vote by command", "closing rolled back, done again", True),
    ("outbox.handed:1", "last vote by command", "reply sent again, stored once", False),
    ("outbox.handed:2", "last vote by command", "outcome sent again, stored once", False),
    ("outbox.handed:3", "last vote by command", "poll end sent again, stored once", False),
    ("outbox.handed:2", "proposal opened, answered while down",
     "poll start stored, not marked: the answers to it still count", True),
    ("outbox.marked", "last vote by poll", "nothing left to do", True),
    ("due.recorded", "deadline", "closing at the deadline done again", True),
    ("proposal.closed", "deadline", "closing at the deadline done again", False),
    ("due.committed", "reminder", "reminder queued, sent after", True),
    ("outbox.handed:1", "reminder", "reminder sent again, stored once", True),
    ("due.recorded", "final agenda", "final agenda done again", True),
    ("outbox.handed:1", "final agenda", "final agenda sent again, stored once", False),
    ("leader.acquired", "standby takes over", "the next instance takes over", True),
    ("outbox.handed:1", "standby takes over", "first reply after the takeover, once", False),
]
# on PostgreSQL by default: the points inside transactions, and the standby's
ON_POSTGRES = {"event.claimed", "event.committed", "proposal.closed", "due.recorded",
               "due.committed", "leader.acquired"}


def rows(database: str) -> list[tuple[str, str]]:
    """Every row with COORDBOT_HEAVY=1; else every point at least once on SQLite, and the
    points inside transactions and the standby's once each on PostgreSQL."""
    chosen = [(point, scenario) for point, scenario, _, default in ROWS
              if HEAVY or (default and (database == "sqlite" or
                                        point.split(":")[0] in ON_POSTGRES))]
    if database == "sqlite":  # one instance only: the lock is taken at the start
        return [(p, "start" if s == "standby takes over" else s) for p, s in chosen]
    if HEAVY:
        return chosen
    first: dict[str, tuple[str, str]] = {}
    for point, scenario in chosen:
        first.setdefault(point.split(":")[0], (point, scenario))
    return list(first.values())


def test_every_crash_point_is_in_the_table():
    assert {p.split(":")[0] for p, *_ in ROWS} == set(faults.POINTS)
    assert {p.split(":")[0] for p, _ in rows("sqlite")} == set(faults.POINTS)
    assert {p.split(":")[0] for p, _ in rows("postgresql")} == \
        (set(faults.POINTS) if HEAVY else ON_POSTGRES)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_a_crash_at_each_point_loses_nothing_and_repeats_nothing(
        synapse, make_client, tmp_path, database):
    with database_url(database, tmp_path) as url:
        st = await stage(synapse, make_client, tmp_path, url)
        for point, name in rows(database):
            await crash_and_recover(st, point, name)
        await check(st, database)
        st.bot.stop()
        if st.standby:
            st.standby.stop()


async def stage(synapse, make_client, tmp_path, url: str) -> Stage:
    bot = BotProcess(synapse, tmp_path / "bot", database=url,
                     bot={"rate_limit_per_minute": 0}).start()
    await bot.ready()
    chair, police, ocam = [await make_client(n) for n in ("chair", "police", "ocam")]
    rooms = []
    for kind in ("tfl", "workgroup", "workgroup"):
        room = await chair.create_encrypted_room(invite=[bot.user_id, police.user_id,
                                                         ocam.user_id])
        for c in (police, ocam):
            await c.join(room)
        for user in (bot.user_id, police.user_id, ocam.user_id):
            await chair.wait_until_joined(room, user)
        await ask(chair, room, bot, f"!room setup {kind} Crash {len(rooms) + 1}")
        rooms.append(room)
    st = Stage(bot, chair, police, ocam, *rooms)
    for client, service in ((police, "Police"), (ocam, "OCAM")):
        await st.command(chair, rooms[0], f"!service {client.user_id} {service}")
    await st.command(chair, rooms[1], "!room set reminders 1m")
    db = Database(bot.database)
    db.call(lambda s: s.execute(update(Room).where(Room.matrix_id == rooms[2]).values(
        agenda_deadline=60)))  # the agenda closes one minute before each meeting
    db.close()
    return st


async def crash_and_recover(st: Stage, point: str, name: str) -> None:
    scenario = SCENARIOS[name]
    made = await scenario.prepare(st)
    await st.quiet()
    if scenario.at_start:
        st.bot.stop()
        await scenario.act(st, made)
        st.bot.start(crash_at=point)
    else:
        armed = st.standby if name == "standby takes over" else st.bot
        armed.arm(point)
        await scenario.act(st, made)
    reached = await st.bot.crashed(timeout=90)
    assert reached == point.split(":")[0], (point, name)
    if scenario.while_down:
        await scenario.while_down(st, made)
    st.bot.start()
    await st.bot.ready()
    await scenario.done(st, made)


async def check(st: Stage, database: str) -> None:
    """What the members saw: everything once, every last vote on record."""
    room, bot = st.votes_room, st.bot.user_id
    await st.quiet()
    await st.command(st.chair, room, "!proposals closed")  # what came before it is in
    await asyncio.sleep(3)  # a duplicate sent late would come now
    twice = [e for r, e in st.commands if len(replies(st.chair, r, bot, e)) != 1]
    assert not twice, f"answered other than once: {twice}"
    for n, outcome in st.outcomes.items():
        assert outcomes(st.chair, room, bot, n) == [outcome], n
        assert len(poll_starts(st.chair, room, bot, n)) == 1, n
        assert len(poll_ends(st.chair, room, bot, st.poll(n))) == 1, n
        status, _ = await ask(st.chair, room, st.bot, f"!proposal P{n}")
        assert votes_on_record(status.body) == st.votes[n], (n, status.body)
    for titles, words, where in ((st.reminders, "Reminder:", st.reminders_room),
                                 (st.agendas, "Final agenda", st.agenda_room)):
        for title in titles:
            said = [e for e in from_bot(st.chair, where, bot)
                    if words in body(e) and title in body(e)]
            assert len(said) == 1, (title, [body(e) for e in said])
    print(f"{database}: {len(rows(database))} crashes; {len(st.commands)} commands, "
          f"{len(st.outcomes)} outcomes and poll ends, {len(st.reminders)} reminders, "
          f"{len(st.agendas)} final agendas, each once; every last vote on record")
