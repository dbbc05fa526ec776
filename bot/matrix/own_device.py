"""The bot's own device as the homeserver publishes it: its keys, or none yet."""

from __future__ import annotations

import logging

from nio import AsyncClient

from bot.matrix.crosssigning import query_keys
from bot.matrix.session import DeviceNotOurs

log = logging.getLogger(__name__)


async def check_device_is_ours(client: AsyncClient) -> None:
    """The homeserver publishes the bot's own keys for its device, or none (then the bot
    uploads them: a new device, or one signed out and in again). A device whose keys another
    client made (a token given for a session in use) cannot be the bot's: messages to it are
    encrypted for keys the bot does not have."""
    user_id, device_id = client.user_id, client.device_id
    query = await query_keys(client, [user_id])
    device = (query.get("device_keys") or {}).get(user_id, {}).get(device_id) or {}
    published = (device.get("keys") or {}).get(f"ed25519:{device_id}")
    account = client.olm.account
    if published and published != account.identity_keys["ed25519"]:
        raise DeviceNotOurs(
            f"device {device_id} already has encryption keys that this bot does not hold "
            "(another client set it up): the bot cannot read or send encrypted messages "
            "as it. Give the bot a token for a device of its own (a new sign-in).")
    if not published and account.shared:
        log.warning("the homeserver has no encryption keys for device %s (it was signed out "
                    "and in again); uploading them again", device_id)
        account.shared = False  # nio then uploads the device keys with the next keys upload
