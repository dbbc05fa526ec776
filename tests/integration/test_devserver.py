"""The local homeserver and the encrypted test client work end to end."""

from __future__ import annotations

import asyncio

import pytest
from nio import MegolmEvent, RoomMessageNotice, RoomMessageText

from bot.devserver import LocalSynapse

pytestmark = pytest.mark.integration


async def test_encrypted_conversation(make_client) -> None:
    alice = await make_client("alice")
    bob = await make_client("bob")

    room_id = await alice.create_encrypted_room(invite=[bob.user_id], name="harness")
    await bob.join(room_id)
    await alice.wait_until_joined(room_id, bob.user_id)

    hello = await alice.send_text(room_id, "hello bob")
    received = await bob.wait_for_message(room_id, sender=alice.user_id)
    assert isinstance(received, RoomMessageText)
    assert not isinstance(received, MegolmEvent)
    assert received.decrypted
    assert received.event_id == hello
    assert received.body == "hello bob"

    reply = await bob.send_text(room_id, "hello alice", msgtype="m.notice")
    answer = await alice.wait_for_message(room_id, sender=bob.user_id, after=hello)
    assert isinstance(answer, RoomMessageNotice)
    assert answer.decrypted
    assert (answer.event_id, answer.body) == (reply, "hello alice")

    # Messages received before the wait started are still found, in order.
    assert [ev.body for ev in bob.messages(room_id)] == ["hello bob", "hello alice"]
    mark = bob.cursor(room_id)
    await alice.send_text(room_id, "second")
    later = await bob.wait_for_message(room_id, since=mark)
    assert later.body == "second"

    for client in (alice, bob):
        assert client.undecryptable(room_id) == []
        assert client.plaintext(room_id) == []
        assert client.sync_errors == []
        assert client.late_decrypted == []


async def test_power_levels(make_client) -> None:
    alice = await make_client("alice")
    bob = await make_client("bob")
    carol = await make_client("carol")
    room_id = await alice.create_encrypted_room(
        invite=[bob.user_id, carol.user_id], power_levels={bob.user_id: 50}
    )
    await alice.set_power_level(room_id, carol.user_id, 20)
    levels = (await alice.client.room_get_state_event(room_id, "m.room.power_levels")).content
    assert levels["users"][bob.user_id] == 50
    assert levels["users"][carol.user_id] == 20
    assert alice.user_id not in levels["users"]  # room v12: the creator is implicit


async def test_register_is_idempotent(synapse: LocalSynapse) -> None:
    first = await asyncio.to_thread(synapse.register, "repeat-user", "secret")
    again = await asyncio.to_thread(synapse.register, "repeat-user", "other password")
    assert first == again == f"@repeat-user:{synapse.server_name}"


async def test_restart_keeps_users_and_clients_recover(synapse: LocalSynapse, make_client) -> None:
    alice = await make_client("alice")
    bob = await make_client("bob")
    room_id = await alice.create_encrypted_room(invite=[bob.user_id])
    await bob.join(room_id)
    await alice.wait_until_joined(room_id, bob.user_id)
    port = synapse.port

    await asyncio.to_thread(synapse.restart, hard=True)
    assert synapse.port == port

    # The running clients' sync loops reconnect on their own.
    mark = bob.cursor(room_id)
    await alice.send_text(room_id, "after the outage")
    received = await bob.wait_for_message(room_id, since=mark, sender=alice.user_id)
    assert received.body == "after the outage"

    # Existing accounts survive: log in again as bob on a new device.
    bob2 = await make_client(localpart=bob.user_id[1:].split(":")[0], password=bob.password)
    assert bob2.user_id == bob.user_id
    assert bob2.device_id != bob.device_id
    assert room_id in bob2.client.rooms
    # History from before the device existed was never shared with it.
    assert {ev.event_id for ev in bob2.undecryptable(room_id)} <= {received.event_id}

    # Alice learns about the new device before her next message.
    text = await alice.send_text(room_id, "to both of bob's devices")
    for device in (bob, bob2):
        ev = await device.wait_for_message(room_id, lambda ev: ev.event_id == text)
        assert ev.body == "to both of bob's devices"
    assert {ev.event_id for ev in bob2.undecryptable(room_id)} <= {received.event_id}
