"""Signed JSON, cross-signing chains and recovery keys."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.matrix.crosssigning import Identity
from bot.matrix.signing import (
    SigningKey,
    b64decode,
    canonical_json,
    decode_recovery_key,
    device_cross_signed,
    encode_recovery_key,
    sign_json,
    signable,
    signed_by,
    user_devices,
    verify,
)

USER = "@carol:example.org"


def test_canonical_json_sorts_keys_and_drops_whitespace():
    value = {"b": 1, "a": {"d": [1, 2, {"z": None, "y": True}], "c": "é\u2028"}, "": -3}
    assert canonical_json(value) == (
        '{"":-3,"a":{"c":"é\u2028","d":[1,2,{"y":true,"z":null}]},"b":1}').encode("utf-8")
    # the examples of the Matrix specification (appendix, canonical JSON)
    assert canonical_json({"one": 1, "two": "Two"}) == b'{"one":1,"two":"Two"}'
    assert canonical_json({"a": "\u65e5\u672c\u8a9e"}) == '{"a":"日本語"}'.encode()
    assert canonical_json({"a": "\u0000"}) == b'{"a":"\\u0000"}'
    with pytest.raises(ValueError):
        canonical_json({"a": float("nan")})


def test_signable_leaves_out_signatures_and_unsigned():
    obj = {"a": 1, "signatures": {"x": {}}, "unsigned": {"age": 3}}
    assert signable(obj) == b'{"a":1}'


def test_signature_matches_the_specification_example():
    # the signing-key example of the Matrix specification (appendix, signing JSON)
    key = SigningKey(b64decode("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"))
    assert key.public == "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI"
    signed = sign_json({}, "domain", "1", key)
    assert signed["signatures"] == {"domain": {"ed25519:1": (
        "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ")}}
    signed = sign_json({"one": 1, "two": "Two"}, "domain", "1", key)
    assert signed["signatures"]["domain"]["ed25519:1"] == (
        "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw")


def test_verify_refuses_what_was_not_signed():
    key, other = SigningKey.generate(), SigningKey.generate()
    signed = sign_json({"a": 1}, USER, "K", key)
    assert signed_by(signed, USER, "K", key.public)
    assert not signed_by(signed, USER, "K", other.public)  # wrong key
    assert not signed_by({**signed, "a": 2}, USER, "K", key.public)  # tampered
    assert not signed_by(signed, "@mallory:example.org", "K", key.public)  # wrong signer
    assert not signed_by(signed, USER, "other", key.public)  # wrong key id
    assert not verify(key.public, b"x", "not base64!")
    assert not verify("short", b"x", signed["signatures"][USER]["ed25519:K"])
    # extra signatures or unsigned data do not matter
    assert signed_by({**sign_json(signed, "@x:y", "Z", other), "unsigned": {"n": 1}},
                     USER, "K", key.public)


def _device(device_id: str, user: str = USER) -> tuple[dict, SigningKey]:
    key = SigningKey.generate()
    obj = {"user_id": user, "device_id": device_id,
           "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
           "keys": {f"ed25519:{device_id}": key.public,
                    f"curve25519:{device_id}": SigningKey.generate().public}}
    return sign_json(obj, user, device_id, key), key


def _query(identity: Identity, *devices: dict, sign: bool = True) -> dict:
    keys = identity.public_keys()
    ssk = identity.self_signing
    signed = [sign_json(d, USER, ssk.public, ssk) if sign else d for d in devices]
    return {"device_keys": {USER: {d["device_id"]: d for d in signed}},
            "master_keys": {USER: keys["master_key"]},
            "self_signing_keys": {USER: keys["self_signing_key"]}}


def test_a_good_chain_is_accepted():
    identity = Identity.generate(USER)
    device, _ = _device("PHONE")
    query = _query(identity, device)
    assert device_cross_signed(query, USER, "PHONE")
    ident = user_devices(query, USER)["PHONE"]
    assert ident.ed25519 == device["keys"]["ed25519:PHONE"] and ident.cross_signed


def test_broken_chains_are_rejected():
    identity = Identity.generate(USER)
    device, _ = _device("PHONE")
    good = _query(identity, device)

    unsigned = _query(identity, device, sign=False)
    assert not device_cross_signed(unsigned, USER, "PHONE")
    assert "PHONE" in user_devices(unsigned, USER)  # known, just not cross-signed

    tampered = copy.deepcopy(good)
    tampered["device_keys"][USER]["PHONE"]["keys"]["curve25519:PHONE"] = "A" * 43
    assert not device_cross_signed(tampered, USER, "PHONE")

    no_ssk_signature = copy.deepcopy(good)
    del no_ssk_signature["self_signing_keys"][USER]["signatures"]
    assert not device_cross_signed(no_ssk_signature, USER, "PHONE")

    other = Identity.generate(USER)  # a self-signing key signed by another master key
    foreign = copy.deepcopy(good)
    foreign["master_keys"][USER] = other.public_keys()["master_key"]
    assert not device_cross_signed(foreign, USER, "PHONE")

    wrong_usage = copy.deepcopy(good)
    wrong_usage["self_signing_keys"][USER]["usage"] = ["user_signing"]
    assert not device_cross_signed(wrong_usage, USER, "PHONE")

    someone_else = copy.deepcopy(good)  # the keys are published for another user
    someone_else["master_keys"]["@mallory:example.org"] = someone_else["master_keys"].pop(USER)
    assert not device_cross_signed(someone_else, USER, "PHONE")

    assert not device_cross_signed(good, USER, "LAPTOP")
    assert not device_cross_signed({}, USER, "PHONE")


def test_recovery_key_round_trip_and_parity():
    secret = bytes(range(32))
    text = encode_recovery_key(secret)
    assert all(len(group) == 4 for group in text.split()[:-1])
    assert decode_recovery_key(text) == secret
    assert decode_recovery_key(text.replace(" ", "")) == secret
    # one character changed: the parity byte (or the prefix) gives it away
    i = 5
    typo = text[:i] + ("2" if text[i] != "2" else "3") + text[i + 1:]
    with pytest.raises(ValueError):
        decode_recovery_key(typo)
    with pytest.raises(ValueError):
        decode_recovery_key("0OIl")  # not base58


@given(st.binary(min_size=32, max_size=32))
def test_recovery_key_round_trips_every_secret(secret):
    text = encode_recovery_key(secret)
    assert decode_recovery_key(text) == secret
    assert text.startswith("E")  # 0x8B 0x01 always encodes to a leading E


class Kept(dict):
    """The sealed secrets of the database (bot.storage.vault.Vault), in memory."""

    def put(self, name: str, value: bytes) -> None:
        self[name] = value


def test_identity_is_kept_whole_and_never_shown():
    kept = Kept()
    identity = Identity.generate(USER)
    identity.save(kept)
    again = Identity.load(kept, USER)
    assert again.master.public == identity.master.public
    assert again.self_signing.seed == identity.self_signing.seed
    assert Identity.load(kept, "@someone:example.org") is None
    assert identity.master.seed.hex() not in repr(identity) + repr(identity.master)


class FakeHomeserver:
    """Just enough of the keys API for the bot's identity: asks for the password."""

    def __init__(self, password: str = "secret", refusal: dict | None = None):
        self.password = password
        # what the homeserver answers to an upload without auth
        self.refusal = refusal or {"flows": [{"stages": ["m.login.password"]}], "session": "S"}
        self.published: dict = {}
        key = SigningKey.generate()
        self.device = sign_json({"user_id": USER, "device_id": "BOTDEV",
                                 "keys": {"ed25519:BOTDEV": key.public,
                                          "curve25519:BOTDEV": "curve"}}, USER, "BOTDEV", key)
        self.calls: list[str] = []

    async def __call__(self, client, method, path, body=None):
        name = path.rsplit("/", 1)[-1]
        self.calls.append(name)
        if name == "query":
            return 200, {"device_keys": {USER: {"BOTDEV": self.device}},
                         **{f"{k}s": {USER: v} for k, v in self.published.items()}}
        if name == "upload" and "device_signing" in path:
            auth = body.pop("auth", None)
            if auth is None:
                return 401, self.refusal
            if auth.get("password") != self.password or auth.get("session") != "S":
                return 401, {"errcode": "M_FORBIDDEN"}
            self.published = body
            return 200, {}
        if name == "upload":  # signatures: the homeserver adds them to what it has
            for key_id, sig in body[USER]["BOTDEV"]["signatures"][USER].items():
                self.device["signatures"][USER][key_id] = sig
            return 200, {"failures": {}}
        raise AssertionError(path)


class FakeClient:
    user_id, device_id, access_token, should_upload_keys = USER, "BOTDEV", "t", False


async def test_identity_is_published_once_and_repaired_when_the_signature_is_gone(
        tmp_path, monkeypatch):
    from bot.matrix import crosssigning

    server = FakeHomeserver()
    monkeypatch.setattr(crosssigning, "matrix_request", server)
    shown = []
    path = Kept()
    identity = await crosssigning.ensure_identity(FakeClient(), path, "secret",
                                                  announce=shown.append)
    assert shown == [identity] and Identity.load(path, USER).recovery_key_shown
    query = (await server(None, "POST", "/keys/query"))[1]
    assert device_cross_signed(query, USER, "BOTDEV")

    server.calls.clear()
    await crosssigning.ensure_identity(FakeClient(), path, None, announce=shown.append)
    assert server.calls == ["query"] and len(shown) == 1  # nothing to do, nothing shown

    del server.device["signatures"][USER][f"ed25519:{identity.self_signing.public}"]
    server.calls.clear()
    await crosssigning.ensure_identity(FakeClient(), path, None, announce=shown.append)
    assert server.calls == ["query", "upload"] and len(shown) == 1
    assert device_cross_signed((await server(None, "POST", "/keys/query"))[1], USER, "BOTDEV")


async def test_without_the_password_the_bot_says_so_and_goes_on(tmp_path, monkeypatch, caplog):
    from bot.matrix import crosssigning
    from tests.unit.conftest import make_config

    server = FakeHomeserver()
    monkeypatch.setattr(crosssigning, "matrix_request", server)
    with pytest.raises(crosssigning.CrossSigningUnavailable,
                       match="needs the account's password: set COORDBOT_MATRIX_PASSWORD"):
        await crosssigning.ensure_identity(FakeClient(), Kept(), None)
    with pytest.raises(crosssigning.CrossSigningUnavailable, match="refused"):
        await crosssigning.ensure_identity(FakeClient(), Kept(), "wrong")
    assert not server.published

    config = make_config(tmp_path)
    config = type(config)(**{**config.__dict__, "matrix": type(config.matrix)(
        **{**config.matrix.__dict__, "password": None})})
    await crosssigning.set_up_cross_signing(FakeClient(), config, Kept())  # does not raise
    assert "cross-signing cannot be set up" in caplog.text and "password" in caplog.text


@pytest.mark.parametrize("stage", ["m.oauth", "org.matrix.cross_signing_reset"])
async def test_a_reset_approved_in_the_browser_is_explained(monkeypatch, stage):
    """A homeserver that signs in through an OpenID provider (Matrix Authentication Service)
    wants the replacement of published keys approved there, at the address it gives."""
    from bot.matrix import crosssigning

    url = "https://account.example.org/reset-cross-signing"
    server = FakeHomeserver(refusal={"flows": [{"stages": [stage]}], "session": "S",
                                     "params": {stage: {"url": url}}})
    monkeypatch.setattr(crosssigning, "matrix_request", server)
    with pytest.raises(crosssigning.CrossSigningUnavailable) as refused:
        await crosssigning.ensure_identity(FakeClient(), Kept(), "a password it cannot use")
    said = str(refused.value)
    assert f"must be approved in a browser: open {url}" in said
    assert "then restart the bot" in said and not server.published
