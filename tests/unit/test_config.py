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


def _write(tmp_path: Path, matrix: str, database: str = "sqlite:///./bot.db") -> str:
    path = tmp_path / "c.yaml"
    path.write_text("matrix:\n  homeserver: https://m.example.org\n"
                    f"  user_id: '@bot:example.org'\n{matrix}"
                    f"storage:\n  database: {database}\n")
    return str(path)


@pytest.mark.parametrize(("matrix", "said"), [
    ("  password: pw\n", "login: the password"),
    ("  access_token: mct_abc\n  device_id: ABCDEFGHIJ\n",
     "login: the access token of device ABCDEFGHIJ"),
    ("", "login: none configured (matrix.password, or matrix.access_token with "
         "matrix.device_id)"),
])
def test_check_config_says_how_the_bot_signs_in(tmp_path, capsys, matrix, said):
    assert main(["check-config", "-c", _write(tmp_path, matrix)]) == 0
    out = capsys.readouterr().out
    assert said in out and "mct_abc" not in out


@pytest.mark.parametrize(("matrix", "database", "problem"), [
    ("  access_token: mct_abc\n", "sqlite:///./bot.db",
     "matrix.device_id: missing: the device matrix.access_token belongs to"),
    ("  device_id: ABCDEFGHIJ\n", "sqlite:///./bot.db",
     "matrix.access_token: missing (or COORDBOT_MATRIX_ACCESS_TOKEN)"),
    ("  password: pw\n", "postgresql+psycopg://db/coordbot",
     "matrix.store_key: required with PostgreSQL (or COORDBOT_STORE_KEY)"),
    ("  password: pw\n  store_key: short\n", "sqlite:///./bot.db",
     "matrix.store_key: too short"),
])
def test_check_config_says_what_is_missing(tmp_path, capsys, matrix, database, problem):
    assert main(["check-config", "-c", _write(tmp_path, matrix, database)]) == 2
    assert problem in capsys.readouterr().err


def test_token_and_store_key_may_come_from_the_environment(tmp_path):
    config = load_config(_write(tmp_path, "  device_id: ABCDEFGHIJ\n",
                                "postgresql+psycopg://db/coordbot"),
                         env={"COORDBOT_MATRIX_ACCESS_TOKEN": "mct_from_env",
                              "COORDBOT_STORE_KEY": "a long enough store key"})
    assert config.matrix.access_token == "mct_from_env"
    assert config.matrix.store_key == "a long enough store key"
    assert "mct_from_env" not in repr(config) and "store key" not in repr(config)


def test_logs_never_carry_tokens_of_any_homeserver():
    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream)
    log = logging.getLogger("coordbot.test")
    log.info("token mat_0123456789abcdef and mct_ABCdef_987, refresh mar_x1 syr_y2")
    log.info('{"store_key": "k3y-value-here"}')
    text = stream.getvalue()
    for secret in ("mat_0", "mct_A", "mar_x", "syr_y", "k3y-value-here"):
        assert secret not in text, secret
    logging.getLogger().handlers.clear()
