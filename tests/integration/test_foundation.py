"""The foundation, driven from real encrypted clients through a real Synapse."""

from __future__ import annotations

import signal

import pytest

from harness.bot import BotProcess
from harness.client import is_reply_to, replied_to

pytestmark = pytest.mark.integration


def replies_to(client, room_id, event_id, bot_id):
    return [ev for ev in client.messages(room_id) if ev.sender == bot_id and
            replied_to(ev) == event_id]


async def ask(client, room_id, bot, text, timeout=30):
    """Send a command, return the bot's decrypted reply to it (an m.notice)."""
    event_id = await client.send_text(room_id, text)
    ev = await client.wait_for_message(
        room_id, is_reply_to(event_id),
        sender=bot.user_id, msgtypes=("m.notice",), timeout=timeout)
    return ev, event_id


async def test_bot_lives_in_encrypted_room_across_restarts(synapse, make_client, tmp_path):
    bot = BotProcess(synapse, tmp_path / "bot").start()
    await bot.ready()
    alice = await make_client("alice")
    bob = await make_client("bob")
    room = await alice.create_encrypted_room(invite=[bot.user_id, bob.user_id])
    await alice.wait_until_joined(room, bot.user_id)  # joined by itself
    await bob.join(room)
    await alice.wait_until_joined(room, bob.user_id)

    help_reply, help_event = await ask(alice, room, bot, "!help")
    assert help_reply.source["type"] == "m.room.message"  # decrypted by the client
    assert "!room setup" in help_reply.body and "not set up yet" in help_reply.body
    assert "<code>" in help_reply.source["content"]["formatted_body"]

    refused, _ = await ask(bob, room, bot, "!room setup tfl TFL Brussels")
    assert "Only a room admin (power level 100)" in refused.body
    done, setup_event = await ask(alice, room, bot, "!room setup tfl TFL Brussels")
    assert "now set up as local taskforce TFL Brussels" in done.body
    info, _ = await ask(bob, room, bot, "!room info")
    assert "TFL Brussels" in info.body and "Europe/Brussels" in info.body

    device = bot.device_id
    bot.stop()
    # a command sent while the bot is down is answered when it is back, even with more
    # talk after it than one sync returns
    missed = await alice.send_text(room, "!services")
    for n in range(60):
        await bob.send_text(room, f"talk {n}")
    bot.start()
    await bot.ready()
    assert bot.device_id == device
    await alice.wait_for_message(
        room, is_reply_to(missed), sender=bot.user_id)
    after, _ = await ask(alice, room, bot, "!room info")
    assert "TFL Brussels" in after.body

    # the bot falls behind (paused) while one member leaves and another joins, with more
    # talk than one sync returns: it still knows who is in the room
    carol = await make_client("carol")
    dave = await make_client("dave")
    for guest in (carol, dave):
        await alice.client.room_invite(room, guest.user_id)
    await carol.join(room)
    await alice.wait_until_joined(room, carol.user_id)
    here, _ = await ask(alice, room, bot, f"!service {carol.user_id} Police")
    assert "represents" in here.body and "Police" in here.body
    bot.proc.send_signal(signal.SIGSTOP)
    try:
        await bob.send_text(room, "answers the sync the bot was waiting on")
        await carol.client.room_leave(room)
        await dave.join(room)
        for n in range(60):
            await bob.send_text(room, f"more talk {n}")
    finally:
        bot.proc.send_signal(signal.SIGCONT)
    gone, _ = await ask(alice, room, bot, f"!service {carol.user_id} Parquet")
    assert "is not a member of this room" in gone.body
    new, _ = await ask(alice, room, bot, f"!service {dave.user_id} OCAM")
    assert "represents" in new.body and "OCAM" in new.body
    for event_id in (help_event, setup_event, missed):
        assert len(replies_to(alice, room, event_id, bot.user_id)) == 1
    log_text = bot.new_log()
    assert "logged in as" not in log_text  # restored, not a new login
    assert "events between two syncs" in log_text
    bot.stop()


async def test_invite_from_server_not_allowed_is_ignored(synapse, make_client, tmp_path):
    bot = BotProcess(synapse, tmp_path / "strict", bot={"allowed_servers": ["example.org"]})
    bot.start()
    await bot.ready()
    carol = await make_client("carol")
    room = await carol.create_encrypted_room(invite=[bot.user_id])
    await bot.wait_log(f"ignoring invite to {room}")
    bot.stop()
    view = await carol._room(room)
    assert bot.user_id in view.invited_users  # invited, never joined


async def _setup_room(make_client, bot, kind="workgroup"):
    alice = await make_client("alice")
    room = await alice.create_encrypted_room(invite=[bot.user_id])
    await alice.wait_until_joined(room, bot.user_id)
    reply, _ = await ask(alice, room, bot, f"!room setup {kind} Test group")
    assert "now set up" in reply.body
    return alice, room


async def test_undecryptable_message_is_reported_to_its_sender(synapse, make_client, tmp_path):
    from nio import Api, RoomSendResponse

    bot = BotProcess(synapse, tmp_path / "bot", bot={"undecryptable_notice": "2s"}).start()
    await bot.ready()
    alice, room = await _setup_room(make_client, bot)
    # a megolm event whose session the bot never received
    content = {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEnB" + "A" * 40,
               "sender_key": alice.client.olm.account.identity_keys["curve25519"],
               "session_id": "nosuchsession" + "A" * 30, "device_id": alice.device_id}
    method, path, data = Api.room_send(alice.client.access_token, room, "m.room.encrypted",
                                       content, "undecryptable-1")
    resp = await alice.client._send(RoomSendResponse, method, path, data,
                                    response_data=(room,))
    notice = await alice.wait_for_message(
        room, is_reply_to(resp.event_id), sender=bot.user_id)
    assert "could not decrypt your message" in notice.body and alice.user_id in notice.body
    await bot.wait_log("cannot decrypt")
    bot.stop()


async def test_bot_rides_out_a_homeserver_outage(synapse, make_client, tmp_path):
    bot = BotProcess(synapse, tmp_path / "bot").start()
    await bot.ready()
    alice, room = await _setup_room(make_client, bot)
    synapse.restart(downtime=5)
    reply, _ = await ask(alice, room, bot, "!room info", timeout=60)
    assert "Test group" in reply.body
    await bot.wait_log("homeserver reachable again")
    assert bot.proc.poll() is None
    bot.stop()


async def test_a_device_finds_a_key_even_when_one_time_keys_run_out(synapse, make_client,
                                                                   tmp_path):
    """Many devices claiming the bot's one-time keys at once (a big room inviting it) get its
    fallback key once those are gone, and can still talk to it."""
    from nio import Api, KeysClaimResponse

    bot = BotProcess(synapse, tmp_path / "bot").start()
    await bot.ready()
    await bot.wait_log("new fallback key uploaded")
    alice, room = await _setup_room(make_client, bot)
    claimed = []
    for _ in range(120):
        method, path, data = Api.keys_claim(alice.client.access_token,
                                            {bot.user_id: [bot.device_id]})
        resp = await alice.client._send(KeysClaimResponse, method, path, data)
        key = next(iter(resp.one_time_keys[bot.user_id][bot.device_id].values()), None) \
            if resp.one_time_keys.get(bot.user_id) else None
        claimed.append(key)
        if key and key.get("fallback"):
            break
    assert claimed[-1] and claimed[-1].get("fallback"), "no fallback key after 120 claims"
    assert len(claimed) > 10  # the one-time keys came first
    # a device that arrives now opens its session with the fallback key
    bob = await make_client("bob")
    await alice.client.room_invite(room, bob.user_id)
    await bob.join(room)
    await alice.wait_until_joined(room, bob.user_id)
    reply, _ = await ask(bob, room, bot, "!room info")
    assert "Test group" in reply.body
    bot.stop()
