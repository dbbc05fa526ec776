from bot.i18n import _ as N_  # noqa: F401


def test_not_set_up_room_ignores_commands_but_help_and_setup(any_db_chat):
    chat = any_db_chat
    assert chat.send("@alice:example.org", "!services") is None
    assert chat.send("@alice:example.org", "!nonsense") is None
    text = chat.send("@alice:example.org", "!help")
    assert "bind this room" not in text  # alice (power 0) may not set up
    assert "not set up yet" in text
    assert "!help" in chat.send("@chair:example.org", "!help")


def test_setup_needs_power_100_or_bot_admin(any_db_chat):
    chat = any_db_chat
    text = chat.send("@alice:example.org", "!room setup tfl TFL Brussels")
    assert "Only a room admin" in text
    assert chat.send("@alice:example.org", "!services") is None  # still not set up
    text = chat.send("@admin:example.org", "!room setup tfl TFL Brussels")
    assert "now set up as local taskforce **TFL Brussels**".replace("**", "") in text


def test_room_info_and_settings(any_db_chat):
    chat = any_db_chat
    chat.setup()
    assert "Time zone: Europe/Brussels" in chat.send("@alice:example.org", "!room info")
    assert "needs the role chair" in chat.send("@coord:example.org", "!room set timezone UTC")
    assert "Europe/Bruxelles is not an IANA" in chat.send(
        "@chair:example.org", "!room set timezone Europe/Bruxelles")
    chat.send("@chair:example.org", "!room set reminders 1h,7d,1d")
    assert "Reminders before each meeting: 1w,1d,1h" in chat.send("@bob:example.org",
                                                                   "!room info")
    text = chat.send("@chair:example.org", "!room set reminders soon")
    assert "not a list of offsets" in text and "Usage: !room set reminders <offsets>" in text


def test_roles_and_services(any_db_chat):
    chat = any_db_chat
    chat.setup()
    assert "@alice:example.org represents Police" in chat.send(
        "@coord:example.org", "!service @alice:example.org Police")
    assert "needs the role coordinator" in chat.send(
        "@bob:example.org", "!service @bob:example.org OCAM")
    chat.send("@chair:example.org", "!role @obs:example.org observer")
    assert "Observers can read but not act" in chat.send("@obs:example.org", "!services")
    assert "Police: @alice:example.org" in chat.send("@bob:example.org", "!services")
    assert "not a member of this room" in chat.send(
        "@coord:example.org", "!service @zed:example.org OCAM")
    assert "is not a Matrix user id" in chat.send("@coord:example.org", "!service zed OCAM")


def test_french_reply_and_bilingual(any_db_chat):
    chat = any_db_chat
    chat.setup()
    chat.send("@chair:example.org", "!room set language fr+nl")
    text = chat.send("@bob:example.org", "!services")
    french, dutch = text.split("———")
    assert "Aucun service" in french and "coordinateur" in french
    assert "Nog geen diensten" in dutch and "coördinator" in dutch


def test_unknown_command_and_quotes(any_db_chat):
    chat = any_db_chat
    chat.setup()
    assert "Unknown command !frobnicate" in chat.send("@bob:example.org", "!frobnicate")
    assert "quotation mark is not closed" in chat.send("@bob:example.org", '!service "x')


def test_absurd_time_zone_names_are_refused_not_crashed(chat):
    chat.setup()
    for name in ("0" * 500, "../../etc/passwd", "Europe/", "\x00"):
        text = chat.send("@chair:example.org", f'!room set timezone "{name}"')
        assert "is not an IANA time zone" in text or "cannot be empty" in text, name
    assert "Time zone: Europe/Brussels" in chat.send("@bob:example.org", "!room info")
