"""A throw-away local Synapse homeserver for ``coordbot demo`` and the test suite.

Synapse is an optional (development) dependency: nothing here imports it. The server is
configured for speed and for being hammered by tests: it listens on 127.0.0.1 only, keeps
its SQLite database, media and logs in one work directory, federates with nobody, and has
every rate limit raised far out of the way (`config`). `synapse` runs the process; users
are created through the shared-secret admin registration API (`admin`).
"""

from bot.devserver.config import INSTALL_HINT, DevServerError, DevServerUnavailable
from bot.devserver.synapse import LocalSynapse, synapse_available

__all__ = [
    "INSTALL_HINT",
    "DevServerError",
    "DevServerUnavailable",
    "LocalSynapse",
    "synapse_available",
]
