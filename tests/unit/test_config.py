"""`coordbot check-config` and the configuration object."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_config
from bot.logs import setup_logging

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def test_the_example_configuration_is_valid(capsys):
    assert main(["check-config", "-c", str(EXAMPLE)]) == 0
    assert "OK" in capsys.readouterr().out


def test_every_problem_is_named_by_its_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("matrix:\n  homeserver: ftp://x\n  user_id: bot\n  device: x\n"
                   "bot:\n  language: de\n  timezone: Mars/Base\n  catch_up: soon\n"
                   "  rate_limit_per_minute: many\nstorage:\n  database: mysql://x\n")
    assert main(["check-config", "-c", str(bad)]) == 2
    err = capsys.readouterr().err
    for key in ("matrix.homeserver", "matrix.user_id", "matrix.device: unknown key",
                "bot.language", "bot.timezone", "bot.catch_up",
                "bot.rate_limit_per_minute: must be a whole number", "storage.database"):
        assert key in err, key


def test_unreadable_and_malformed_files(tmp_path, capsys):
    assert main(["check-config", "-c", str(tmp_path / "missing.yaml")]) == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("matrix: [unclosed")
    assert main(["check-config", "-c", str(broken)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_relative_paths_resolve_from_the_file_and_password_from_env(tmp_path):
    cfg = tmp_path / "conf" / "c.yaml"
    cfg.parent.mkdir()
    cfg.write_text("matrix:\n  homeserver: https://m.example.org\n"
                   "  user_id: '@bot:example.org'\n  store_path: ./store\n"
                   "storage:\n  database: sqlite:///./db/bot.db\n")
    config = load_config(cfg, env={"COORDBOT_MATRIX_PASSWORD": "s3cret-pass"})
    assert config.matrix.store_path == tmp_path / "conf" / "store"
    assert config.storage.database == f"sqlite:///{tmp_path}/conf/db/bot.db"
    assert config.matrix.password == "s3cret-pass"
    assert config.bot.allowed_servers == ("example.org",)  # default: the bot's own server
    with pytest.raises(ConfigError):
        load_config(tmp_path / "nope.yaml")


def test_logs_never_carry_secrets():
    stream = io.StringIO()
    setup_logging("DEBUG", secrets=["hunter2-password"], stream=stream)
    log = logging.getLogger("coordbot.test")
    log.debug("login with %s", "hunter2-password")
    log.info("GET /sync?access_token=syt_abc_DEF123 failed")
    log.warning("header Authorization: Bearer syt_secret_token_value")
    try:
        raise ValueError("token syt_in_a_traceback_123")
    except ValueError:
        log.exception("boom")
    text = stream.getvalue()
    assert "hunter2-password" not in text and "syt_" not in text
    assert text.count("[redacted]") >= 4
    logging.getLogger().handlers.clear()
