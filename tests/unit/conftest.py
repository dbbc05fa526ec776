"""A dispatcher over a real (SQLite) database, for unit tests of commands."""

from __future__ import annotations

import itertools
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.commands.dispatch import Dispatcher, Incoming
from bot.config import parse_config
from bot.reply import render_reply
from bot.storage import sealing
from bot.storage.db import Database
from harness.dbs import database_url

ROOM = "!room:example.org"
_ids = itertools.count(1)


def make_config(tmp: Path, database: str | None = None, **bot):
    raw = {"matrix": {"homeserver": "http://127.0.0.1:1", "user_id": "@coordbot:example.org",
                      "password": "x", "store_key": "the unit tests' store key"},
           "storage": {"database": database or f"sqlite:///{tmp}/bot.db"},
           "bot": {"allowed_servers": ["example.org"], "admins": ["@admin:example.org"],
                   "language": "en", **bot}}
    return parse_config(raw, base=tmp, env={})


class _Failures(logging.Handler):
    """The error references of the failures the dispatcher logs: it logs one for each
    unexpected failure it apologises for, whatever language the room speaks."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.refs: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"error reference (\w+)", record.getMessage())
        if found:
            self.refs.append(found[1])


_FAILURES = _Failures()
logging.getLogger("bot.commands.dispatch").addHandler(_FAILURES)


class Chat:
    """Sends command texts through the dispatcher as a given user, returns the plain reply.

    `outcomes` lists (command, outcome) as the dispatcher reports them ("ok", "refused",
    "user_error", "failed"); `failures` the error references of unexpected failures."""

    def __init__(self, tmp: Path, database: str | None = None, *, migrate: bool = True,
                 **bot):
        self.config = make_config(tmp, database, **bot)
        self.db = Database(self.config.storage.database)
        if migrate:  # not for a copy of a database migrated before
            self.db.migrate()
        self.outcomes: list[tuple[str, str]] = []
        self.dispatcher = Dispatcher(self.config, observer=lambda command, outcome:
                                     self.outcomes.append((command, outcome)))
        self.failures: list[str] = []
        self.members = {"@chair:example.org", "@coord:example.org", "@alice:example.org",
                        "@bob:example.org", "@obs:example.org", "@admin:example.org"}
        self.powers = {"@chair:example.org": 100, "@coord:example.org": 50}
        self.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def close(self) -> None:
        self.db.close()

    def send(self, sender: str, body: str, room: str = ROOM, **device) -> str | None:
        """The plain text of the reply to `body` (None when it is ignored); `device_id=`
        and `device_verified=` say which device sent it."""
        split = self.dispatcher.split_prefix(body)
        if split is None:
            return None
        inc = Incoming(room_id=room, event_id=f"$e{next(_ids)}", sender=sender,
                       prefix=split[0], text=split[1], sent_at=self.now,
                       power=self.powers.get(sender, 0), members=frozenset(self.members),
                       **device)
        logged = len(_FAILURES.refs)
        out = self.db.call(lambda s: self.dispatcher.handle(s, inc, self.now))
        self.failures.extend(_FAILURES.refs[logged:])
        if out is None:
            return None
        self.last = out
        return render_reply(out.reply, out.language)[0]

    def setup(self, kind: str = "tfl", name: str = "TFL Brussels", room: str = ROOM) -> None:
        text = self.send("@chair:example.org", f"!room setup {kind} {name}", room)
        assert text and "set up" in text, text


@pytest.fixture(autouse=True)
def quick_key_stretching(request, monkeypatch):
    """Unit tests unlock sealed databases some two hundred times: there the store key is
    stretched 1 000 times instead of 600 000, which would cost them about a minute. The
    tests marked `real_stretching` keep the real count (and check it)."""
    if request.node.get_closest_marker("real_stretching") is None:
        monkeypatch.setattr(sealing, "ITERATIONS", 1_000)


@pytest.fixture
def chat(tmp_path):
    c = Chat(tmp_path)
    yield c
    c.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_chat(request, tmp_path):
    """The same conversation on SQLite and on PostgreSQL."""
    with database_url(request.param, tmp_path) as url:
        c = Chat(tmp_path, url)
        yield c
        c.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """A migrated, empty database, on SQLite and on PostgreSQL."""
    with database_url(request.param, tmp_path) as url:
        database = Database(url)
        database.migrate()
        yield database
        database.close()
