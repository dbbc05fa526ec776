"""Operations: active/standby on PostgreSQL, health and metrics."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.dbs import database_url
from tests.integration.test_foundation import ask
from tests.support.bot import BotProcess
from tests.support.client import replied_to

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


async def test_standby_takes_over_when_the_active_instance_is_killed(synapse, make_client,
                                                                     tmp_path):
    with database_url("postgresql", tmp_path) as url:
        port_b = free_port()
        active = BotProcess(synapse, tmp_path / "bot", database=url,
                            bot={"rate_limit_per_minute": 0})
        active.start()
        await active.ready()
        standby = active.twin("standby")
        # the standby serves its own health endpoint (same file, another port)
        cfg = active.config_path.read_text()
        active.config_path.write_text(cfg + f"metrics:\n  listen: 127.0.0.1:{port_b}\n")
        standby.start()
        await standby.wait_log("standby: another instance is active")
        status, body = await asyncio.to_thread(get, f"http://127.0.0.1:{port_b}/healthz")
        assert status == 503 and json.loads(body)["role"] == "standby"
        active.config_path.write_text(cfg)
        # no metrics.listen, no listener; with it, that one only
        assert active.listening_ports() == set()
        assert standby.listening_ports() == {port_b}

        alice = await make_client("alice")
        room = await alice.create_encrypted_room(invite=[active.user_id])
        await alice.wait_until_joined(room, active.user_id)
        setup, setup_event = await ask(alice, room, active, "!room setup tfl TFL Liège")
        assert "now set up" in setup.body
        device = active.device_id

        active.kill()
        killed = time.monotonic()
        await standby.wait_log("ready: first sync handled", timeout=30)
        takeover = time.monotonic() - killed
        print(f"standby ready {takeover:.1f}s after the active instance was killed")
        assert takeover <= 10
        info, _ = await ask(alice, room, active, "!room info")
        assert "TFL Liège" in info.body
        assert active.device_id == device  # no second device
        replies = [e for e in alice.messages(room) if e.sender == active.user_id and
                   replied_to(e) == setup_event]
        assert len(replies) == 1
        status, body = await asyncio.to_thread(get, f"http://127.0.0.1:{port_b}/healthz")
        assert status == 200 and json.loads(body)["role"] == "active"
        status, metrics = await asyncio.to_thread(get, f"http://127.0.0.1:{port_b}/metrics")
        assert status == 200
        assert 'coordbot_commands_total{command="room info",outcome="ok"} 1.0' in metrics
        assert "coordbot_rooms 1.0" in metrics and "coordbot_sync_lag_seconds" in metrics
        assert "coordbot_reminders_sent 0.0" in metrics and "coordbot_open_proposals 0.0" in metrics
        standby.stop()


async def test_a_second_instance_on_sqlite_refuses_to_start(synapse, tmp_path):
    bot = BotProcess(synapse, tmp_path / "bot").start()
    await bot.ready()
    second = bot.twin("second").start()
    await asyncio.to_thread(second.proc.wait, 30)
    assert second.proc.returncode == 1
    assert "with SQLite only one instance may run" in second.log()
    bot.stop()
