"""Where a bot's time goes: a py-spy profile (`--format raw --threads --idle`) summed up.

Each sample is put in the first category that its innermost frames match, walking from the
innermost frame outwards, so that a database write made while decrypting counts as the E2EE
store and not as decryption. Prints, per thread, the seconds and the share of each category,
and with `--events N` the milliseconds per event.

    python bench/storm_profile.py FILE [--events 400]
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict

RATE = 200  # samples a second, as bench/votes.py records them

# (category, substrings of a frame), tried on each frame from the innermost outwards
CATEGORIES = [
    ("E2EE store (in the bot's database)", ("bot/matrix/store.py", "bot/storage/e2ee.py",
                                            "peewee.py", "nio/store/")),
    ("handing work between threads", ("run_in_executor", "call_soon_threadsafe",
                                      "_chain_future", "Future.set_result")),
    ("decryption", ("decrypt",)),
    ("encryption, room keys", ("encrypt", "share_group_session", "nio/crypto/")),
    ("parsing events (nio, JSON, schema)", ("jsonschema/", "referencing/", "json/decoder",
                                            "from_dict", "nio/events/", "nio/responses")),
    ("database commit", ("do_commit", "_commit_impl")),
    ("database statements", ("sqlalchemy/", "sqlite3", "psycopg", "bot/storage/")),
    ("tally", ("bot/core/consensus", "current_tally")),
    ("rendering", ("bot/i18n/", "bot/reply", "babel/", "markdown")),
    ("sending (HTTP)", ("aiohttp/", "yarl/", "multidict/", "ssl.py", "nio/api.py")),
    ("handling (other bot code)", ("bot/",)),
]
# innermost frames of a thread with nothing to do
WAITING = ("selectors.py", "concurrent/futures/thread.py:81", "threading.py:3", "queue.py",
           "Condition.wait", "Event.wait")


def category(frames: list[str]) -> str:
    if any(w in frames[-1] for w in WAITING):
        return "waiting"
    store, marks = CATEGORIES[0]
    if any(m in frame for frame in frames for m in marks):
        return store  # its SQL too: the store's statements run on the database's code
    for frame in reversed(frames):
        for name, marks in CATEGORIES:
            if any(m in frame for m in marks):
                return name
    return "event loop, other"


def summarize(path: str) -> dict[str, Counter]:
    by_thread: dict[str, Counter] = defaultdict(Counter)
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        frames = stack.split(";")
        thread = frames[0].split(": ", 1)[-1]
        by_thread[thread][category(frames[1:] or frames)] += int(count)
    return by_thread


def main(path: str, events: int | None) -> None:
    for thread, counts in sorted(summarize(path).items()):
        total = sum(counts.values())
        busy = total - counts["waiting"]
        if busy < RATE / 20:  # less than 50 ms of work: a thread that only waited
            continue
        print(f"{thread}: {total / RATE:.1f}s sampled, busy {busy / RATE:.2f}s "
              f"({100 * busy / total:.0f}%)")
        for name, n in counts.most_common():
            per = f"  {1000 * n / RATE / events:6.2f} ms/event" if events else ""
            print(f"  {name:38} {n / RATE:7.2f}s {100 * n / total:5.1f}%{per}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--events", type=int)
    a = parser.parse_args()
    main(a.file, a.events)
