"""The whole command surface under random input: never an unhandled failure (recognised by
its error reference, whatever the room's language), never markup, and a refused command or a
mistake changes nothing in the database. Each example starts from a fresh copy of the same
prepared room.

A dedicated run: COORDBOT_FUZZ_EXAMPLES=10000 pytest tests/unit/test_fuzz.py
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from bot.reply import render_reply
from tests.unit.conftest import Chat

EXAMPLES = int(os.environ.get("COORDBOT_FUZZ_EXAMPLES", "300"))
USERS = ["@chair:example.org", "@coord:example.org", "@alice:example.org", "@obs:example.org",
         "@stranger:example.org"]
INJECTION = ["<script>alert(1)</script>", "<b>x</b>", "**bold**", "[link](javascript:x)",
             "@room", "&amp;", "<a href='https://evil'>x</a>", "{0}", "{name}", "%s"]
ODD = ["\u202e", "\u200b", "\ufeff", "é", "ß", "👩‍👩‍👧", "Ж", "\x00", "\t", "\n", "ﬁ", "١٢٣"]

token = st.one_of(
    st.sampled_from(["M1", "m2", "P1", "A1", "T1", "X9", "M999999999", "P0"]),
    st.sampled_from(["2026-12-03", "2026-02-30", "1999-01-01", "2100-01-01", "14:30", "25:61",
                     "90m", "0m", "5d", "1w", "10000w", "yes", "no", "maybe", "agree",
                     "object", "abstain", "all", "open", "closed", "weekly", "monthly",
                     "FREQ=MONTHLY;BYDAY=1TH", "FREQ=HOURLY", "COUNT=3;UNTIL=20270101",
                     "@alice:example.org", "@nobody:example.org", "@bad", "tfl", "csil-r",
                     "fr+nl", "Europe/Brussels", "Mars/Base", "insert", "remove",
                     "85073100328", "jan@example.org", "0470 12 34 56", "TFL-BXL-2026-0042"]),
    st.sampled_from(INJECTION + ODD),
    st.sampled_from(["--deadline", "--rule", "--date", "--duration", "--repeat", "--place",
                     "--meeting", "--presenter", "--minutes", "--due", "--nope", "--"]),
    st.text(max_size=40),
    st.text(min_size=500, max_size=5000).map(lambda t: '"' + t + '"'),
)


@pytest.fixture(scope="module")
def prepared_database(tmp_path_factory) -> Path:
    """A database with one prepared taskforce room, copied afresh for each example, so that
    no example starts from what an earlier one changed (a language, a deleted meeting, …)."""
    folder = tmp_path_factory.mktemp("fuzz")
    chat = Chat(folder, rate_limit_per_minute=0)
    chat.setup("tfl")
    for body in ("!service @alice:example.org Police", "!service @coord:example.org OCAM",
                 "!meeting add 2026-12-10 14:00 Taskforce --repeat monthly"):
        assert chat.send("@coord:example.org", body)
    assert "P1" in chat.send("@alice:example.org", "!propose Feedback sheet")
    chat.close()  # checkpointed: the file alone holds everything
    return folder / "bot.db"


_examples = itertools.count(1)


@pytest.fixture(scope="module")
def fresh_chat(prepared_database, tmp_path_factory):
    folder = tmp_path_factory.mktemp("examples")
    chats: list[Chat] = []

    def make() -> Chat:
        while chats:
            chats.pop().close()
        copy = folder / f"example{next(_examples)}.db"
        shutil.copyfile(prepared_database, copy)
        chats.append(Chat(folder, f"sqlite:///{copy}", migrate=False,
                          rate_limit_per_minute=0))
        return chats[-1]

    yield make
    while chats:
        chats.pop().close()


def snapshot(chat: Chat) -> dict[str, list[str]]:
    """Every row of every table."""
    def read(s):
        if not TABLES:
            TABLES.extend(inspect(s.connection()).get_table_names())
        return {n: sorted(map(repr, s.execute(text(f'SELECT * FROM "{n}"')).all()))
                for n in TABLES}
    return chat.db.call(read)


TABLES: list[str] = []  # the same in every copy


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_input_is_answered_or_ignored_and_rendered_inert(fresh_chat, data):
    chat = fresh_chat()
    commands = [c.name for c in chat.dispatcher.registry.commands]
    words = data.draw(st.sampled_from(commands + ["", "nonsense"]))
    args = data.draw(st.lists(token, max_size=6))
    prefix = data.draw(st.sampled_from(["!", "/", "!!", ""]))
    body = prefix + " ".join([words, *args])
    sender = data.draw(st.sampled_from(USERS))
    before = snapshot(chat)
    text = chat.send(sender, body)
    # a failure is recognised by its error reference, whatever the room's language
    assert chat.failures == [], body
    outcomes = [outcome for _, outcome in chat.outcomes]
    if outcomes != ["ok"]:  # refused, a mistake, or ignored: bad input changes nothing
        assert snapshot(chat) == before, (body, outcomes, text)
    if text is None:
        return
    plain, html = render_reply(chat.last.reply, chat.last.language)
    for bad in ("<script", "<b>x", "<a href='https://evil'", "href=\"javascript"):
        assert bad not in html, (body, html)
    assert "@room" not in plain.lower() and "@room" not in html.lower()
