"""Rooms that accept commands only from devices their owners cross-signed."""

from __future__ import annotations

import itertools

import pytest

from bot.matrix import trust as trust_module
from bot.matrix.crosssigning import Identity
from bot.matrix.signing import SigningKey, sign_json
from bot.matrix.trust import DeviceTrust
from bot.storage.outbox import queue
from tests.unit.conftest import ROOM, Chat

CHAIR = "@chair:example.org"
_ids = itertools.count(1)


@pytest.fixture
def strict(tmp_path):
    c = Chat(tmp_path, require_cross_signed_devices=["tfl"])
    yield c
    c.db.close()


def send(chat: Chat, body: str, *, verified: bool | None, room: str = ROOM) -> str | None:
    return chat.send(CHAIR, body, room, device_id=f"D{next(_ids)}", device_verified=verified)


def test_unverified_device_is_refused_in_required_kinds_and_changes_nothing(strict):
    # setting a room up is possible from any device: the room has no kind yet
    assert "set up" in send(strict, "!room setup tfl TFL Brussels", verified=False)
    for verified in (False, None):
        answer = send(strict, "!meeting add 2026-12-03 14:00 Monthly TFL", verified=verified)
        assert "Your device is not verified by its owner (cross-signing)" in answer
        assert "Verify this session in your client" in answer
    assert "not verified" in send(strict, "!help", verified=False)
    assert "no meeting" in send(strict, "!meeting list", verified=True).lower()
    assert "M1" in send(strict, "!meeting add 2026-12-03 14:00 Monthly TFL", verified=True)


def test_other_room_kinds_accept_any_device(strict):
    assert "set up" in send(strict, "!room setup workgroup Prevention", verified=False)
    assert "Prevention" in send(strict, "!room info", verified=False)


def test_without_the_setting_devices_are_not_checked(chat):
    chat.setup("tfl")
    assert "TFL Brussels" in send(chat, "!room info", verified=None)


def test_who_may_read_an_answer_is_decided_when_it_is_queued(strict):
    """In a room of a required kind only cross-signed devices read the bot's messages, and
    an answer to a device that is not also reaches that device; elsewhere, every device."""
    kinds = strict.config.bot.require_cross_signed_devices
    other = "!other:example.org"

    def queued(body: str, *, verified: bool, room: str = ROOM):
        assert strict.send(CHAIR, body, room, device_id="PHONE", device_verified=verified)
        [row] = strict.db.call(lambda s: queue(s, strict.last.messages, strict.now,
                                               verified_only_kinds=kinds))
        return row.verified_only, row.device

    assert queued("!room setup tfl TFL Brussels", verified=True) == (True, None)
    assert queued("!room info", verified=False) == (True, (CHAIR, "PHONE"))
    assert queued("!room setup workgroup Prevention", verified=False, room=other) == \
        (False, None)
    assert queued("!room info", verified=False, room=other) == (False, None)


class FakeQueries:
    def __init__(self):
        self.identity = Identity.generate(CHAIR)
        self.devices: dict[str, dict] = {}
        self.calls = 0

    def add_device(self, device_id: str, *, cross_signed: bool) -> dict:
        key = SigningKey.generate()
        obj = sign_json({"user_id": CHAIR, "device_id": device_id,
                         "keys": {f"ed25519:{device_id}": key.public,
                                  f"curve25519:{device_id}": f"curve-{device_id}"}},
                        CHAIR, device_id, key)
        if cross_signed:
            ssk = self.identity.self_signing
            obj = sign_json(obj, CHAIR, ssk.public, ssk)
        self.devices[device_id] = obj
        return obj

    async def __call__(self, client, users):
        self.calls += 1
        keys = self.identity.public_keys()
        return {"device_keys": {CHAIR: dict(self.devices)},
                "master_keys": {CHAIR: keys["master_key"]},
                "self_signing_keys": {CHAIR: keys["self_signing_key"]}}


async def test_device_trust_caches_and_looks_again_for_a_fresh_signature(monkeypatch):
    fake = FakeQueries()
    monkeypatch.setattr(trust_module, "query_keys", fake)
    clock = [100.0]
    trust = DeviceTrust(client=None, recheck_after=5, clock=lambda: clock[0])
    laptop = fake.add_device("LAPTOP", cross_signed=True)
    fake.add_device("PHONE", cross_signed=False)

    ed = laptop["keys"]["ed25519:LAPTOP"]
    assert await trust.sender(CHAIR, "curve-LAPTOP", ed) == ("LAPTOP", True)
    assert await trust.sender(CHAIR, "curve-LAPTOP", "") == ("LAPTOP", False)  # forwarded
    assert await trust.sender(CHAIR, "curve-PHONE", "x") == ("PHONE", False)
    assert fake.calls == 1  # answered from the cache

    phone = fake.add_device("PHONE", cross_signed=True)  # the owner verifies the phone
    clock[0] += 10  # the cached answer is old enough to be checked once more
    assert await trust.sender(CHAIR, "curve-PHONE", phone["keys"]["ed25519:PHONE"]) == \
        ("PHONE", True)
    assert fake.calls == 2

    fake.add_device("TABLET", cross_signed=False)
    trust.forget([CHAIR])  # the homeserver said the device list changed
    assert (await trust.sender(CHAIR, "curve-TABLET", "x"))[1] is False
    assert await trust.sender(CHAIR, "curve-NOBODY", "x") == (None, False)


async def test_device_trust_knows_nothing_when_the_homeserver_does_not_answer(monkeypatch):
    async def failing(client, users):
        raise ConnectionError("down")

    monkeypatch.setattr(trust_module, "query_keys", failing)
    assert await DeviceTrust(client=None).sender(CHAIR, "curve", "ed") == (None, None)
