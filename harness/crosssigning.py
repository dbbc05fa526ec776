"""Cross-signing for test users: a person who verified their own session in their client."""

from __future__ import annotations

from pathlib import Path

from bot.matrix.crosssigning import KEYS_FILE, Identity, ensure_identity, query_keys
from bot.matrix.signing import user_devices
from harness.client import TestClient


class KeysFile:
    """A client's private cross-signing keys in one file of its store folder, as an
    earlier version of the bot kept its own (matrix.store_path/cross_signing.json)."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / KEYS_FILE

    def get(self, name: str) -> bytes | None:
        return self.path.read_bytes() if self.path.exists() else None

    def put(self, name: str, value: bytes) -> None:
        self.path.write_bytes(value)
        self.path.chmod(0o600)


async def cross_sign(client: TestClient) -> Identity:
    """Give the client's user cross-signing keys and sign the client's device with them,
    as Element does when a user sets up secure backup on a session."""
    return await ensure_identity(client.client, KeysFile(Path(client.client.store_path)),
                                 client.password)


async def chain_of(client: TestClient, user_id: str) -> dict:
    """What another user sees of `user_id`'s keys: {device_id: DeviceIdentity}."""
    return user_devices(await query_keys(client.client, [user_id]), user_id)
