"""Parsing, converters, permissions and failure handling of the command framework."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands.converters import Date, Duration, ShortId, Time, UserId
from bot.commands.framework import UserError, tokenize
from bot.core.roles import CREATOR_POWER, Role, effective_power, role_from_power
from bot.i18n import render
from bot.matrix.text import command_text


def text_of(err: UserError) -> str:
    return render(err.message, "en", as_html=False)


@pytest.mark.parametrize("raw, tokens", [
    ('room setup tfl "TFL Brussels"', ["room", "setup", "tfl", "TFL Brussels"]),
    ('propose “Feedback sheet” --deadline 5d', ["propose", "Feedback sheet", "--deadline", "5d"]),
    ("propose «Fiche de retour» now", ["propose", "Fiche de retour", "now"]),
    ("agenda add l'extrême droite", ["agenda", "add", "l'extrême", "droite"]),
    ('propose "unclosed', None),
])
def test_tokenize(raw, tokens):
    if tokens is None:
        with pytest.raises(UserError):
            tokenize(raw)
    else:
        assert tokenize(raw) == tokens


@pytest.mark.parametrize("conv, good, value", [
    (Date(), "2026-12-03", date(2026, 12, 3)),
    (Time(), "14:30", time(14, 30)),
    (Time(), "9h05", time(9, 5)),
    (Duration(), "1h30m", timedelta(minutes=90)),
    (Duration(), "1w", timedelta(days=7)),
    (UserId(), "@alice:example.org", "@alice:example.org"),
    (ShortId("M"), "m12", 12),
    (ShortId("P"), "P7", 7),
])
def test_converters_accept(conv, good, value):
    assert conv.convert(good, None) == value


@pytest.mark.parametrize("conv, bad, says", [
    (Date(), "2026-02-30", "not a date: write YYYY-MM-DD"),
    (Date(), "03/12/2026", "not a date"),
    (Time(), "25:00", "not a time: write HH:MM"),
    (Duration(), "0m", "not a duration"),
    (Duration(), "30s", "out of range"),
    (Duration(), "soon", "not a duration"),
    (UserId(), "alice", "not a Matrix user id"),
    (ShortId("M"), "P7", "not an id like M7"),
])
def test_converters_refuse_with_the_expected_form(conv, bad, says):
    with pytest.raises(UserError) as err:
        conv.convert(bad, None)
    assert says in text_of(err.value)


def test_roles_from_power_and_creators():
    assert role_from_power(100) == Role.CHAIR
    assert role_from_power(50) == Role.COORDINATOR
    assert role_from_power(49) == Role.MEMBER
    users = {"@a:x": 100, "@b:x": 0}
    # room version 12: the creator is not in the power levels but outranks everyone
    assert effective_power("@c:x", users, 0, "12", ["@c:x"]) == CREATOR_POWER
    assert effective_power("@d:x", users, 0, "12", ["@c:x", "@d:x"]) == CREATOR_POWER
    # before version 12 the creator has only what the power levels give
    assert effective_power("@c:x", users, 0, "11", ["@c:x"]) == 0
    assert effective_power("@a:x", users, 0, "10", []) == 100


def test_pills_become_user_ids_and_reply_quotes_are_dropped():
    content = {"body": "!role Alice coordinator", "format": "org.matrix.custom.html",
               "formatted_body": '<mx-reply><blockquote>old</blockquote></mx-reply>'
                                 '!role <a href="https://matrix.to/#/%40alice%3Aexample.org">'
                                 'Alice</a> coordinator'}
    assert command_text(content) == "!role @alice:example.org coordinator"
    assert command_text({"body": "> <@x:y> quoted\n!help"}) == "!help"


# ---- through the dispatcher -------------------------------------------------------------

def test_flags_anywhere_and_errors_show_usage(chat):
    chat.setup()
    text = chat.send("@chair:example.org", "!room set reminders")
    assert "Missing argument <offsets>" in text
    assert "Usage: !room set reminders <offsets>" in text
    text = chat.send("@chair:example.org", "!room set language fr --loud yes")
    assert "Unknown option --loud" in text
    assert "Too many arguments: nl" in chat.send("@chair:example.org",
                                                 "!room set language fr nl")


def test_an_unexpected_failure_is_apologised_for_and_changes_nothing(chat, monkeypatch,
                                                                        caplog):
    chat.setup()
    cmd = next(c for c in chat.dispatcher.registry.commands if c.name == "room set timezone")

    def broken(ctx, zone):
        ctx.room.timezone = zone
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cmd, "handler", broken)
    text = chat.send("@chair:example.org", "!room set timezone UTC")
    assert "Sorry, something went wrong" in text and "Error reference:" in text
    assert "disk on fire" not in text
    ref = text.rsplit("Error reference: ", 1)[1].rstrip(".")
    assert ref in caplog.text and "disk on fire" in caplog.text
    assert chat.failures == [ref]  # how the fuzz tests recognise a failure, in any language
    assert "Time zone: Europe/Brussels" in chat.send("@bob:example.org", "!room info")
    chat.send("@chair:example.org", "!room set language nl")
    text = chat.send("@chair:example.org", "!room set timezone UTC")
    assert chat.failures[-1] in text and "Foutreferentie" in text  # said in Dutch


def test_long_commands_are_capped_and_rate_limit_answers_once(tmp_path):
    from tests.unit.conftest import Chat

    chat = Chat(tmp_path, rate_limit_per_minute=3, max_command_length=100)
    chat.setup()
    assert "too long: at most 100 characters" in chat.send("@bob:example.org",
                                                           "!services " + "x" * 200)
    assert chat.send("@bob:example.org", "!services")
    assert chat.send("@bob:example.org", "!services")
    text = chat.send("@bob:example.org", "!services")
    assert "too fast" in text
    assert chat.send("@bob:example.org", "!services") is None  # answered once
    assert chat.send("@alice:example.org", "!services")  # others unaffected


def test_prefixes_come_from_the_config(tmp_path):
    from tests.unit.conftest import Chat

    chat = Chat(tmp_path, command_prefixes=["?"])
    assert chat.send("@chair:example.org", "!help") is None
    assert "?room setup" in chat.send("@chair:example.org", "?help")


def test_ids_and_ordinary_messages_are_ignored(chat):
    chat.setup()
    assert chat.send("@bob:example.org", "hello !help") is None
    assert chat.send("@bob:example.org", "/") is None
    assert chat.send("@bob:example.org", "! help") is None


@pytest.fixture(scope="module")
def text_chat(tmp_path_factory):
    from tests.unit.conftest import Chat

    chat = Chat(tmp_path_factory.mktemp("fuzz"), rate_limit_per_minute=0)
    chat.setup()
    yield chat
    chat.close()


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_text_is_answered_or_ignored_never_crashes(text_chat, text):
    for body in (text, "!" + text, "!room " + text, "!service @bob:example.org " + text):
        text_chat.send("@chair:example.org", body)  # the room's language may change
        assert text_chat.failures == [], body
