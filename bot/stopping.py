"""Stopping on Ctrl-C or SIGTERM, once.

The first signal cancels the task that runs everything; it then closes what it opened, in
order (the due-work round in progress, the sends, the homeserver connection, the database).
A second signal during that close is noted and not obeyed: interrupting the close is what
would leave a connection open or files behind.
"""

from __future__ import annotations

import asyncio
import logging
import signal

log = logging.getLogger(__name__)


def stop_on_signals(task: asyncio.Task) -> None:
    """Cancel `task` at the first SIGINT or SIGTERM; ignore the ones after it."""
    loop = asyncio.get_running_loop()
    stopping = False

    def stop() -> None:
        nonlocal stopping
        if stopping:
            log.info("already stopping; closing connections first")
            return
        stopping = True
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
