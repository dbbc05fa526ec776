"""Health and metrics: `/healthz` and `/metrics` on an optional loopback listener."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest

from bot.storage.db import Database
from bot.storage.figures import figures

log = logging.getLogger(__name__)
HEALTHY_SYNC_AGE = 90.0  # seconds; a sync long-polls for 30 s at most

class _DatabaseFigures:
    def __init__(self, db: Database):
        self.db = db

    def collect(self):
        for name, doc, value in figures(self.db):
            yield GaugeMetricFamily(name, doc, value=value)


class Metrics:
    def __init__(self, db: Database, last_sync: Callable[[], float | None]):
        self.registry = CollectorRegistry()
        self.last_sync = last_sync
        self.sync_lag = Gauge("coordbot_sync_lag_seconds", "Seconds since the last sync",
                              registry=self.registry)
        self.sync_lag.set_function(lambda: self.sync_age() or float("nan"))
        self.events = Counter("coordbot_events_handled", "Room events handled", ["kind"],
                              registry=self.registry)
        self.commands = Counter("coordbot_commands", "Commands by name and outcome",
                                ["command", "outcome"], registry=self.registry)
        self.undecryptable = Counter("coordbot_decryption_failures",
                                     "Messages the bot could not decrypt in time",
                                     registry=self.registry)
        self.registry.register(_DatabaseFigures(db))

    def sync_age(self) -> float | None:
        last = self.last_sync()
        return None if not last else time.monotonic() - last

    def command(self, name: str, outcome: str) -> None:
        self.commands.labels(name, outcome).inc()


class OpsServer:
    def __init__(self, listen: str, metrics: Metrics, db: Database,
                 role: Callable[[], str]):
        host, _, port = listen.rpartition(":")
        self.host, self.port = host.strip("[]") or "127.0.0.1", int(port)
        self.metrics, self.db, self.role = metrics, db, role
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.scrape)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("health and metrics on http://%s:%d/", self.host, self.port)

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def healthz(self, _request: web.Request) -> web.Response:
        role = self.role()
        age = self.metrics.sync_age()
        database = await asyncio.to_thread(self.db.ping)
        reasons = []
        if role != "active":
            reasons.append(f"{role}: not the active instance")
        if age is None:
            reasons.append("not synced yet")
        elif age > HEALTHY_SYNC_AGE:
            reasons.append(f"last sync {age:.0f}s ago")
        if not database:
            reasons.append("database does not answer")
        body = {"status": "unavailable" if reasons else "ok", "role": role,
                "last_sync_seconds_ago": None if age is None else round(age, 1),
                "database": database, "reasons": reasons}
        return web.json_response(body, status=503 if reasons else 200)

    async def scrape(self, _request: web.Request) -> web.Response:
        data = await asyncio.to_thread(generate_latest, self.metrics.registry)
        return web.Response(body=data, headers={"Content-Type": CONTENT_TYPE_LATEST})
