"""Operations: active/standby on PostgreSQL, health and metrics."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest

from harness.bot import BotProcess
from harness.client import replied_to
from harness.crosssigning import chain_of
from harness.dbs import database_url
from tests.integration.test_foundation import ask

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
    """Two hosts: each its own working directory, nothing shared but the database."""
    with database_url("postgresql", tmp_path) as url:
        port = free_port()
        active = BotProcess(synapse, tmp_path / "host1", database=url,
                            bot={"rate_limit_per_minute": 0})
        active.start()
        await active.ready()
        standby = active.twin("standby", workdir=tmp_path / "host2")
        standby.config["metrics"] = {"listen": f"127.0.0.1:{port}"}  # its own health endpoint
        standby.write_config()
        standby.start()
        await standby.wait_log("standby: another instance is active")
        status, body = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/healthz")
        assert status == 503 and json.loads(body)["role"] == "standby"
        # no metrics.listen, no listener; with it, that one only
        assert active.listening_ports() == set()
        assert standby.listening_ports() == {port}

        alice = await make_client("alice")
        room = await alice.create_encrypted_room(invite=[active.user_id])
        await alice.wait_until_joined(room, active.user_id)
        setup, setup_event = await ask(alice, room, active, "!room setup tfl TFL Liège")
        assert "now set up" in setup.body
        device = active.device_id

        active.kill()
        killed = time.monotonic()
        info, _ = await ask(alice, room, active, "!room info", timeout=60)
        answered = time.monotonic() - killed
        print(f"standby answered {answered:.1f}s after the active instance was killed")
        assert "TFL Liège" in info.body  # decrypted, answered, encrypted: the same device
        assert standby.device_id == device
        assert list(await chain_of(alice, active.user_id)) == [device]  # no second device
        assert not (standby.workdir / "store").exists()
        replies = [e for e in alice.messages(room) if e.sender == active.user_id and
                   replied_to(e) == setup_event]
        assert len(replies) == 1
        status, body = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(body)["role"] == "active"
        status, metrics = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert 'coordbot_commands_total{command="room info",outcome="ok"} 1.0' in metrics
        assert "coordbot_rooms 1.0" in metrics and "coordbot_sync_lag_seconds" in metrics
        assert "coordbot_reminders_sent 0.0" in metrics and "coordbot_open_proposals 0.0" in metrics
        standby.stop()


async def test_an_instance_that_lost_its_lock_writes_nothing_more(synapse, make_client,
                                                                 tmp_path):
    """The active instance freezes; its lock goes (its connection cut) and the standby takes
    over. When the frozen one wakes, whatever it was doing, it writes nothing: it steps down."""
    with database_url("postgresql", tmp_path) as url:
        first = BotProcess(synapse, tmp_path / "host1", database=url)
        first.start()
        await first.ready()
        second = first.twin("second", workdir=tmp_path / "host2").start()
        await second.wait_log("standby: another instance is active")
        alice = await make_client("alice")
        room = await alice.create_encrypted_room(invite=[first.user_id])
        await alice.wait_until_joined(room, first.user_id)
        await ask(alice, room, first, "!room setup workgroup Clôture")

        first.proc.send_signal(signal.SIGSTOP)  # frozen: its connections stay open
        first.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE application_name = left(:n, 63)",
                  n=f"coordbot lock {lock_holder(first)}")
        await second.ready()
        answer, sent = await ask(alice, room, second, "!room info", timeout=60)
        assert "Clôture" in answer.body
        handled = first.sql("SELECT count(*) FROM processed_events")[0][0]
        first.proc.send_signal(signal.SIGCONT)  # wakes up with the command in its sync
        await first.wait_log("stepping down", timeout=30)
        await first.wait_log("standby: another instance is active")
        await asyncio.sleep(3)
        assert [e for e in alice.messages(room) if replied_to(e) == sent] == [answer]
        assert first.sql("SELECT count(*) FROM processed_events")[0][0] == handled
        assert first.proc.poll() is None  # a standby now
        first.stop()
        second.stop()


def lock_holder(bot: BotProcess) -> str:
    return re.search(r"holding the instance lock \(([^)]*)\)", bot.log()).group(1)


async def test_a_second_instance_on_sqlite_refuses_to_start(synapse, tmp_path):
    bot = BotProcess(synapse, tmp_path / "bot").start()
    await bot.ready()
    second = bot.twin("second").start()
    await asyncio.to_thread(second.proc.wait, 30)
    assert second.proc.returncode == 1
    assert "with SQLite only one instance may run" in second.log()
    bot.stop()
