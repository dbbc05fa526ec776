"""The configuration of the local Synapse of :mod:`bot.devserver`: written directly (not
through Synapse's ``--generate-config``, which costs a whole extra interpreter start), on
127.0.0.1 only, federating with nobody, every rate limit raised far out of the way."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import yaml

INSTALL_HINT = (
    "Synapse is needed to run a local homeserver. Install it into the same Python "
    "environment as coordbot, e.g. `pip install 'coordbot[dev]'` or "
    "`pip install matrix-synapse`."
)

CONFIG_FILE = "homeserver.yaml"
LOG_CONFIG_FILE = "log.config"
LOG_FILE = "homeserver.log"
CONSOLE_LOG_FILE = "synapse.console.log"

# Applied to every rate limiter this Synapse version knows about.  Unknown keys
# are ignored by Synapse, so the list can be generous.
_UNLIMITED = {"per_second": 1000, "burst_count": 10000}
_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_registration_token_validity": _UNLIMITED,
    "rc_login": {
        "address": _UNLIMITED,
        "account": _UNLIMITED,
        "failed_attempts": _UNLIMITED,
    },
    "rc_admin_redaction": _UNLIMITED,
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_key_requests": _UNLIMITED,
    "rc_3pid_validation": _UNLIMITED,
    "rc_invites": {
        "per_room": _UNLIMITED,
        "per_user": _UNLIMITED,
        "per_issuer": _UNLIMITED,
    },
    "rc_third_party_invite": _UNLIMITED,
    "rc_media_create": _UNLIMITED,
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_delayed_event_mgmt": _UNLIMITED,
    "rc_room_creation": _UNLIMITED,
    "rc_reports": _UNLIMITED,
    "rc_user_directory": _UNLIMITED,
    "rc_profile": _UNLIMITED,
}


class DevServerError(RuntimeError):
    """The local homeserver failed to start, stop or answer."""


class DevServerUnavailable(DevServerError):
    """Synapse is not installed in this Python environment."""

    def __init__(self, message: str = INSTALL_HINT) -> None:
        super().__init__(message)


def write_log_config(workdir: Path, log_path: Path, level: str) -> None:
    """A plain file handler: no buffering, so warnings and errors are on disk as soon as
    they are logged."""
    log_config = {
        "version": 1,
        "formatters": {
            "precise": {
                "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s"
                " - %(request)s - %(message)s"
            }
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "precise",
                "filename": str(log_path),
                "encoding": "utf8",
            }
        },
        "loggers": {
            "synapse.storage.SQL": {"level": "WARNING"},
            "twisted": {"level": "WARNING"},
        },
        "root": {"level": level, "handlers": ["file"]},
        "disable_existing_loggers": False,
    }
    (workdir / LOG_CONFIG_FILE).write_text(yaml.safe_dump(log_config, sort_keys=False),
                                           encoding="utf8")


def homeserver_config(workdir: Path, server_name: str) -> dict[str, Any]:
    """Every value ``--generate-config`` would produce, or its override. The signing key
    file is created by Synapse on its first start; the listener is set by `set_port`."""

    def secret() -> str:
        return secrets.token_urlsafe(32)

    config: dict[str, Any] = {
        "server_name": server_name,
        "pid_file": str(workdir / "homeserver.pid"),
        "public_baseurl": None,  # filled in once the port is known
        "listeners": [],
        "database": {"name": "sqlite3", "args": {"database": str(workdir / "homeserver.db")}},
        "log_config": str(workdir / LOG_CONFIG_FILE),
        "media_store_path": str(workdir / "media_store"),
        "signing_key_path": str(workdir / f"{server_name}.signing.key"),
        "registration_shared_secret": secret(),
        "macaroon_secret_key": secret(),
        "form_secret": secret(),
        "report_stats": False,
        "enable_registration": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "enable_metrics": False,
        # Password hashing dominates register/login time at the default of 12 rounds;
        # these are throw-away accounts.
        "bcrypt_rounds": 4,
    }
    config.update(_RATE_LIMITS)
    return config


def set_port(config: dict[str, Any], host: str, port: int) -> None:
    config["listeners"] = [{
        "port": port,
        "bind_addresses": [host],
        "type": "http",
        "tls": False,
        "x_forwarded": False,
        "resources": [{"names": ["client"], "compress": False}],
    }]
    config["public_baseurl"] = f"http://{host}:{port}/"


def save_config(path: Path, config: dict[str, Any]) -> None:
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf8")
    tmp.replace(path)


def load_config(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf8") as fh:
        config = yaml.safe_load(fh)
    if not isinstance(config, dict):
        raise DevServerError(f"{path} is not a YAML mapping")
    return config
