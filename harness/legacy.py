"""The bot's device as the version before the database store kept it, in its store folder.

What that version did at its first start, with the same calls: nio's default store in
`matrix.store_path` (pickle key nio's default), the login in credentials.json, the
cross-signing keys in cross_signing.json (both mode 0600), the device signed with them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from nio import AsyncClient, AsyncClientConfig, LoginResponse

from bot.devserver import LocalSynapse
from bot.matrix.crosssigning import ensure_identity
from harness.crosssigning import KeysFile


async def earlier_device(hs: LocalSynapse, user_id: str, password: str,
                         folder: Path) -> AsyncClient:
    """Log in and set up the device as the earlier version did; the client stays open
    (the caller syncs it: it receives room keys as that bot would have)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    client = AsyncClient(hs.base_url, user_id, store_path=str(folder), config=AsyncClientConfig(
        encryption_enabled=True, store_sync_tokens=False, request_timeout=60))
    resp = await client.login(password, device_name="coordbot")
    assert isinstance(resp, LoginResponse), resp
    path = folder / "credentials.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"user_id": resp.user_id, "device_id": resp.device_id,
                   "access_token": resp.access_token, "homeserver": hs.base_url}, fh)
    await ensure_identity(client, KeysFile(folder), password)
    return client
