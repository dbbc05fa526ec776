"""The whole command surface under random input: never an unhandled failure, never markup.

A dedicated run: COORDBOT_FUZZ_EXAMPLES=10000 pytest tests/unit/test_fuzz.py
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
def fuzz_chat(tmp_path_factory):
    chat = Chat(tmp_path_factory.mktemp("fuzz"), rate_limit_per_minute=0)
    chat.setup("tfl")
    chat.send("@coord:example.org", "!service @alice:example.org Police")
    chat.send("@coord:example.org", "!service @coord:example.org OCAM")
    chat.send("@coord:example.org", "!meeting add 2026-12-10 14:00 Taskforce --repeat monthly")
    chat.send("@alice:example.org", "!propose Feedback sheet")
    yield chat
    chat.db.close()


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_input_is_answered_or_ignored_and_rendered_inert(fuzz_chat, data):
    commands = [c.name for c in fuzz_chat.dispatcher.registry.commands]
    words = data.draw(st.sampled_from(commands + ["", "nonsense"]))
    args = data.draw(st.lists(token, max_size=6))
    prefix = data.draw(st.sampled_from(["!", "/", "!!", ""]))
    body = prefix + " ".join([words, *args])
    sender = data.draw(st.sampled_from(USERS))
    text = fuzz_chat.send(sender, body)
    if text is None:
        return
    assert "something went wrong on my side" not in text, body
    plain, html = render_reply(fuzz_chat.last.reply, fuzz_chat.last.language)
    for bad in ("<script", "<b>x", "<a href='https://evil'", "href=\"javascript"):
        assert bad not in html, (body, html)
    assert "@room" not in plain.lower() and "@room" not in html.lower()
