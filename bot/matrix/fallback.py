"""A fallback key for the bot's device, which matrix-nio does not publish by itself.

When many devices open an Olm session with the bot at once (a room of fifty people inviting
it), they can claim its one-time keys faster than the bot tops them up; a device that finds
none cannot send the bot its room key, and the bot cannot read that device's messages. The
homeserver hands out the fallback key once the one-time keys are gone.
"""

from __future__ import annotations

import logging

from nio import AsyncClient, KeysUploadResponse
from nio.api import Api

log = logging.getLogger(__name__)


async def publish_fallback_key(client: AsyncClient) -> bool:
    """Make a new fallback key and publish it (the previous one still opens sessions that
    were started with it). Needs the device keys published first; True once done."""
    olm = client.olm
    if olm is None or not olm.account.shared:
        return False
    account = olm.account._account  # the vodozemac account: nio has no fallback-key API
    if not account.fallback_key:  # else a key made earlier whose upload failed: that one,
        account.generate_fallback_key()  # or the published one would be rotated out
    key_id, key = next(iter(account.fallback_key.items()))
    signed = {"key": key.to_base64(), "fallback": True}
    signed["signatures"] = {client.user_id: {f"ed25519:{client.device_id}":
                                             olm.sign_json(dict(signed))}}
    method, path, data = Api.keys_upload(client.access_token, {
        "fallback_keys": {f"signed_curve25519:{key_id}": signed}})
    # nio marks the key published and saves the account when the upload succeeds
    resp = await client._send(KeysUploadResponse, method, path, data)
    if not isinstance(resp, KeysUploadResponse):
        log.warning("publishing the fallback key failed: %s", getattr(resp, "message", resp))
        return False
    log.info("new fallback key uploaded")
    return True
