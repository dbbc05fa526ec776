"""What bench/votes.py measures a storm with: both bots' figures, their ratios, the versions
it ran with, and an optional py-spy recording of coordbot."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

from harness.client import TestClient

TARGET_P99 = 1.5  # coordbot's p99 at most this times the echo bot's
TARGET_INTAKE = 0.8  # coordbot's intake at least this times the echo bot's


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def versions() -> str:
    return ", ".join(f"{name} {version(dist)}" for name, dist in (
        ("nio", "matrix-nio"), ("SQLAlchemy", "SQLAlchemy"), ("vodozemac", "vodozemac"),
        ("Synapse", "matrix-synapse")))


async def stamps(client: TestClient, room: str, event_ids: list[str]) -> dict[str, int]:
    """The homeserver's timestamp of each event."""
    sem = asyncio.Semaphore(16)

    async def one(event_id: str) -> tuple[str, int]:
        async with sem:
            resp = await client.client.room_get_event(room, event_id)
            return event_id, resp.event.server_timestamp

    return dict(await asyncio.gather(*(one(e) for e in event_ids)))


class Side:
    """One bot's share of the storm: the messages it got, by group, and its answers."""

    def __init__(self, name: str, what: str):
        self.name, self.what = name, what
        self.cast: list[tuple[int, str]] = []  # (group, event id)
        self.answers: dict[int, int] = {}  # group -> timestamp of the answer completing it

    def last_in(self, stamp: dict[str, int]) -> dict[int, int]:
        last: dict[int, int] = {}
        for group, event_id in self.cast:
            last[group] = max(last.get(group, 0), stamp[event_id])
        return last

    def figures(self, stamp: dict[str, int]) -> tuple[list[float], float]:
        """Each group's last message -> answer (s), and the events handled per second."""
        last = self.last_in(stamp)
        lags = [(self.answers[g] - last[g]) / 1000 for g in last]
        first = min(stamp[e] for _, e in self.cast)
        return lags, len(self.cast) / ((max(self.answers.values()) - first) / 1000)


def report(coord: Side, plain: Side, stamp: dict[str, int]) -> bool:
    rows = []
    for side in (coord, plain):
        lags, intake = side.figures(stamp)
        rows.append((statistics.median(lags), pct(lags, 99), max(lags), intake))
        print(f"{side.name:9} {side.what:23} p50 {rows[-1][0]:5.2f}s  p99 {rows[-1][1]:5.2f}s"
              f"  max {rows[-1][2]:5.2f}s   intake {intake:5.1f} events/s")
    p99, intake = rows[0][1] / rows[1][1], rows[0][3] / rows[1][3]
    ok = p99 <= TARGET_P99 and intake >= TARGET_INTAKE
    print(f"ratios    coordbot / echo bot         p99 {p99:.2f} (target <= {TARGET_P99})   "
          f"intake {intake:.2f} (target >= {TARGET_INTAKE})   {'met' if ok else 'NOT MET'}")
    return ok


def split(side: Side, stamp: dict[str, int], handled: dict[str, float]) -> None:
    """Where coordbot's share goes: from a group's last message to the bot taking the last
    of them in hand (its own clock, ms), and from there to the answer."""
    last_in = side.last_in(stamp)
    taken: dict[int, float] = {}
    for group, event_id in side.cast:
        taken[group] = max(taken.get(group, 0), handled[event_id])
    intake = [(taken[g] - last_in[g]) / 1000 for g in last_in]
    out = [(side.answers[g] - taken[g]) / 1000 for g in last_in]
    print(f"          of which to the bot's claim     p50 {statistics.median(intake):5.2f}s  "
          f"p99 {pct(intake, 99):5.2f}s; claim -> answer p50 {statistics.median(out):5.2f}s  "
          f"p99 {pct(out, 99):5.2f}s")


@contextlib.contextmanager
def profiled(pid: int, out: str | None) -> Iterator[None]:
    """Record the process with py-spy meanwhile: all threads, idle time too."""
    if out is None:
        yield
        return
    local = Path(sys.executable).parent / "py-spy"  # installed beside this Python, or on PATH
    spy = subprocess.Popen([str(local) if local.exists() else "py-spy", "record",
                            "--pid", str(pid), "--threads", "--idle", "--rate", "200",
                            "--format", "raw", "-o", out],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
