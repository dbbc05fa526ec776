"""Named crash points, for the tests that prove what a crash at each one leaves behind.

For tests only. `COORDBOT_CRASH_AT=outbox.handed:2` makes the process end at once the second
time it passes the point `outbox.handed`: `os._exit`, as a power cut or `kill -9` would end
it — no `finally`, no flush, no goodbye to the homeserver or the database. Several points may
be given, comma-separated; `name` alone means its first passage. The variable is read once,
when the process starts.

`COORDBOT_CRASH_PLAN=FILE` names a file holding such a plan instead; it is read again whenever
it changes (the passages are counted afresh from then on), so that a test can arm a running
process without restarting it. Without either variable a crash point costs one dictionary
lookup.

Each point is named in `POINTS` below, with where it sits; the README's reliability section
lists them with the test that crashes the bot at each one.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "COORDBOT_CRASH_AT"
PLAN_FILE = "COORDBOT_CRASH_PLAN"
EXIT_CODE = 86  # what a process ended by a crash point returns (the tests look for it)

POINTS = {
    "event.claimed": "an event's transaction, after the event is claimed, before commit",
    "event.committed": "an event's transaction is committed; its messages are not yet "
                       "handed to the sender, the sync position is not yet saved",
    "proposal.closed": "a proposal's closing transaction (by a last vote or at the "
                       "deadline), outcome and poll end queued, before commit",
    "due.recorded": "a due-work transaction (reminder, deadline, agenda post), the work "
                    "recorded with its messages, before commit",
    "due.committed": "a due-work transaction is committed; the sender is not yet woken",
    "outbox.handed": "the homeserver accepted a message; it is not yet marked sent",
    "outbox.marked": "messages were marked sent",
    "leader.acquired": "the instance lock is taken; nothing is started yet",
}


def parse(spec: str, source: str = ENV) -> dict[str, int]:
    """{point: passage at which to crash} from `name[:n],…`; an unknown name is refused, so
    that a misspelt test does not pass by never crashing."""
    plan: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, n = item.partition(":")
        if name not in POINTS:
            raise ValueError(f"{source}: unknown crash point {name!r} "
                             f"(known: {', '.join(POINTS)})")
        if n and (not n.isdigit() or int(n) < 1):
            raise ValueError(f"{source}: {item!r}: the passage must be a number from 1")
        plan[name] = int(n or 1)
    return plan


class _Plan:
    """Passages still to go before each armed point. The one piece of process-wide state in
    the bot: a crash point must be reachable from any layer without being handed through
    every constructor, and only tests ever arm it."""

    def __init__(self, spec: str, file: str | None):
        self.left = parse(spec)
        self.file = Path(file) if file else None
        self.seen: tuple | None = None  # the plan file as last read

    def passed(self, name: str) -> None:
        if name not in POINTS:
            raise ValueError(f"no crash point named {name!r}")
        if self.file is not None:
            self._reread()
        left = self.left.get(name)
        if left is None:
            return
        if left > 1:
            self.left[name] = left - 1
            return
        # unbuffered, straight to the file descriptor: the test reads it from the log
        os.write(2, f"crash point {name} reached: exiting at once\n".encode())
        os._exit(EXIT_CODE)

    def _reread(self) -> None:
        try:
            stat = self.file.stat()
            version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if version != self.seen:  # a test replaces the file as a whole (rename)
                self.left = parse(self.file.read_text(), str(self.file))
        except FileNotFoundError:
            version = None
            self.left = {}
        self.seen = version


_plan = _Plan(os.environ.get(ENV, ""), os.environ.get(PLAN_FILE))


def crash_point(name: str) -> None:
    """End the process here if a test asked for it (see above)."""
    _plan.passed(name)
