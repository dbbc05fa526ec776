"""Shared fixtures.

Integration tests (``@pytest.mark.integration``) run against one local Synapse
started for the whole session; they are skipped when Synapse is not installed, and fail
instead with CI=true (as do the PostgreSQL tests without a server).
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.devserver import INSTALL_HINT, LocalSynapse, synapse_available
from harness.client import TestClient
from harness.dbs import unavailable

log = logging.getLogger(__name__)

MakeClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    """One running homeserver for the whole test session."""
    if not synapse_available():
        unavailable(INSTALL_HINT)
    hs = LocalSynapse(tmp_path_factory.mktemp("synapse"))
    hs.start()
    log.info("Synapse started in %.2fs at %s", hs.last_startup_seconds, hs.base_url)
    try:
        yield hs
    finally:
        hs.stop()


_client_numbers = itertools.count(1)


@pytest.fixture
async def make_client(synapse: LocalSynapse, tmp_path: Path) -> AsyncIterator[MakeClient]:
    """Factory of logged-in encrypted test clients, closed at teardown.

    ``await make_client("alice")`` registers a fresh user ``alice-<random>``;
    ``localpart=`` and ``password=`` log in as a given (possibly existing) user,
    ``device_id=`` and ``store_dir=`` resume an earlier device.
    """
    clients: list[TestClient] = []

    async def factory(
        name: str = "user",
        *,
        localpart: str | None = None,
        password: str | None = None,
        device_id: str | None = None,
        store_dir: Path | None = None,
    ) -> TestClient:
        number = next(_client_numbers)
        localpart = localpart or f"{name}-{secrets.token_hex(4)}"
        password = password or f"pw-{localpart}"
        store_dir = store_dir or tmp_path / f"client{number}-{localpart}"
        client = await TestClient.login(
            synapse, localpart, password, store_dir, device_id=device_id
        )
        clients.append(client)
        return client

    try:
        yield factory
    finally:
        for client in reversed(clients):
            try:
                await client.close()
            except Exception:
                log.exception("closing %r failed", client)


@pytest.fixture(autouse=True)
def _no_bot_outlives_its_test():
    """A test that fails half-way must not leave its bot running into the next tests."""
    yield
    from harness.bot import BotProcess

    for bot in list(BotProcess.live):
        bot.kill()
