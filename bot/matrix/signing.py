"""Signed JSON as Matrix defines it: canonical JSON, ed25519 signatures, cross-signing chains.

Plain functions over plain values (the bodies of `/keys/query` and friends), so that the
bot's own identity (bot.matrix.crosssigning) and its judgement of other people's devices
(bot.matrix.trust) rest on the same few checked lines.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa

ED25519 = "ed25519"


# ---- encodings ---------------------------------------------------------------------------
def b64encode(data: bytes) -> str:
    """Unpadded standard base64, as Matrix writes keys and signatures."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def canonical_json(value: Any) -> bytes:
    """Matrix canonical JSON: sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                      allow_nan=False).encode("utf-8")


def signable(obj: dict) -> bytes:
    """The bytes a signature covers: the object without `signatures` and `unsigned`."""
    return canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


# ---- ed25519 -----------------------------------------------------------------------------
class SigningKey:
    """An ed25519 private key, known by its 32-byte seed."""

    def __init__(self, seed: bytes):
        if len(seed) != 32:
            raise ValueError("an ed25519 seed has 32 bytes")
        self._key = eddsa.import_private_key(seed)
        self.seed = seed
        self.public = b64encode(self._key.public_key().export_key(format="raw"))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ECC.generate(curve="ed25519").seed)

    def __repr__(self) -> str:  # never show the seed
        return f"SigningKey({self.public})"

    def sign(self, message: bytes) -> str:
        return b64encode(eddsa.new(self._key, "rfc8032").sign(message))


def verify(public_key: str, message: bytes, signature: str) -> bool:
    try:
        key = eddsa.import_public_key(b64decode(public_key))
        eddsa.new(key, "rfc8032").verify(message, b64decode(signature))
    except (ValueError, TypeError, binascii.Error):
        return False
    return True


def sign_json(obj: dict, user_id: str, key_id: str, key: SigningKey) -> dict:
    """A copy of `obj` with one more signature (`ed25519:<key_id>` of `user_id`)."""
    signed = dict(obj)
    signatures = {u: dict(s) for u, s in obj.get("signatures", {}).items()}
    signatures.setdefault(user_id, {})[f"{ED25519}:{key_id}"] = key.sign(signable(obj))
    signed["signatures"] = signatures
    return signed


def signed_by(obj: dict, user_id: str, key_id: str, public_key: str) -> bool:
    """Whether `obj` carries a valid signature of `user_id`'s key `ed25519:<key_id>`."""
    sigs = obj.get("signatures")
    if not isinstance(sigs, dict) or not isinstance(sigs.get(user_id), dict):
        return False
    signature = sigs[user_id].get(f"{ED25519}:{key_id}")
    return isinstance(signature, str) and verify(public_key, signable(obj), signature)


# ---- cross-signing keys ------------------------------------------------------------------
def cross_signing_key(user_id: str, usage: str, public: str) -> dict:
    return {"user_id": user_id, "usage": [usage], "keys": {f"{ED25519}:{public}": public}}


def key_of(obj: Any, user_id: str, usage: str) -> str | None:
    """The public key of a cross-signing key object, if it is `user_id`'s key for `usage`."""
    if not isinstance(obj, dict) or obj.get("user_id") != user_id:
        return None
    if usage not in (obj.get("usage") or []):
        return None
    keys = obj.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        return None
    (key_id, public), = keys.items()
    if key_id != f"{ED25519}:{public}" or not isinstance(public, str):
        return None
    return public


@dataclass(frozen=True)
class DeviceIdentity:
    """A device's published keys, with whether its owner cross-signed it."""

    device_id: str
    ed25519: str
    curve25519: str
    cross_signed: bool


def self_signing_key(query: dict, user_id: str) -> str | None:
    """`user_id`'s self-signing key, if their master key signed it (from a /keys/query)."""
    master = key_of((query.get("master_keys") or {}).get(user_id), user_id, "master")
    ssk_obj = (query.get("self_signing_keys") or {}).get(user_id)
    ssk = key_of(ssk_obj, user_id, "self_signing")
    if master is None or ssk is None or not signed_by(ssk_obj, user_id, master, master):
        return None
    return ssk


def device_identity(device: Any, user_id: str, device_id: str,
                    ssk: str | None) -> DeviceIdentity | None:
    """The device's keys if the object is self-consistent and self-signed, else None."""
    if not isinstance(device, dict) or device.get("user_id") != user_id or \
            device.get("device_id") != device_id:
        return None
    keys = device.get("keys") or {}
    ed = keys.get(f"{ED25519}:{device_id}")
    curve = keys.get(f"curve25519:{device_id}")
    if not isinstance(ed, str) or not isinstance(curve, str) or \
            not signed_by(device, user_id, device_id, ed):
        return None
    cross = ssk is not None and signed_by(device, user_id, ssk, ssk)
    return DeviceIdentity(device_id, ed, curve, cross)


def user_devices(query: dict, user_id: str) -> dict[str, DeviceIdentity]:
    """Every well-formed device of `user_id` in a /keys/query body, cross-signed or not."""
    ssk = self_signing_key(query, user_id)
    devices = (query.get("device_keys") or {}).get(user_id) or {}
    found = {}
    for device_id, obj in devices.items():
        ident = device_identity(obj, user_id, device_id, ssk)
        if ident is not None:
            found[device_id] = ident
    return found


def device_cross_signed(query: dict, user_id: str, device_id: str) -> bool:
    """Whether the owner cross-signed this device: the device is signed by the user's
    self-signing key, which is signed by the user's master key."""
    ident = user_devices(query, user_id).get(device_id)
    return bool(ident and ident.cross_signed)


# ---- recovery keys -----------------------------------------------------------------------
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
RECOVERY_PREFIX = b"\x8b\x01"


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + out


def _b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        digit = _B58.find(ch)
        if digit < 0:
            raise ValueError(f"not a base58 character: {ch!r}")
        n = n * 58 + digit
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + body


def _parity(data: bytes) -> int:
    p = 0
    for b in data:
        p ^= b
    return p


def encode_recovery_key(secret: bytes) -> str:
    """A 32-byte secret as a Matrix recovery key: base58 of 0x8B 0x01, the secret and a
    parity byte (XOR of all the bytes before it), in groups of four characters."""
    raw = RECOVERY_PREFIX + secret
    text = _b58encode(raw + bytes([_parity(raw)]))
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def decode_recovery_key(text: str) -> bytes:
    raw = _b58decode("".join(text.split()))
    if len(raw) != len(RECOVERY_PREFIX) + 33 or not raw.startswith(RECOVERY_PREFIX):
        raise ValueError("not a recovery key")
    if _parity(raw) != 0:
        raise ValueError("recovery key has a typo (parity check failed)")
    return raw[len(RECOVERY_PREFIX):-1]
