"""The bot's device, wired from the database: its sealed secrets, its end-to-end encryption
store, an earlier version's store folder imported once, the login, the cross-signing keys."""

from __future__ import annotations

import asyncio

from nio import AsyncClient

from bot.config import Config
from bot.matrix.crosssigning import set_up_cross_signing
from bot.matrix.legacy import import_store_folder
from bot.matrix.own_device import check_device_is_ours
from bot.matrix.session import Credentials, check_token, new_client, sign_in
from bot.matrix.store import store_class
from bot.storage.db import Database
from bot.storage.e2ee import E2EERecords
from bot.storage.vault import Vault


async def open_device(config: Config, db: Database) -> tuple[AsyncClient, Credentials]:
    """A signed-in client whose keys live in `db`. Raises LoginFailed (TokenRefused) and
    StoreKeyProblem with what the operator must do."""
    vault = await asyncio.to_thread(Vault.open, db, config.matrix.store_key)
    store = store_class(E2EERecords(db, vault.sealer))
    await asyncio.to_thread(import_store_folder, config.matrix.store_path,
                            config.matrix.user_id, vault, store)
    client = new_client(config, store)
    try:
        creds = await sign_in(client, config, vault)
        await check_device_is_ours(client)
    except BaseException:
        await client.close()
        raise
    await set_up_cross_signing(client, config, vault)
    return client, creds


async def check_configured_token(config: Config) -> None:
    """With `matrix.access_token`: before anything else, the homeserver accepts it (or
    TokenRefused stops the bot, nothing changed)."""
    if not config.matrix.access_token:
        return
    client = AsyncClient(config.matrix.homeserver, config.matrix.user_id)
    try:
        await check_token(client, config)
    finally:
        await client.close()
