"""The validated configuration object, loaded from YAML and the environment.

Every problem is collected and reported by its key, so an operator fixes a file in one pass.
The object is passed explicitly to whatever needs it; there is no global configuration.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.config_reader import Reader
from bot.core.recurrence import RecurrenceError, check_zone

ROOM_KINDS = ("csil-r", "tfl", "tfn", "workgroup", "platform")
LANGUAGES = ("fr", "nl", "en", "fr+nl")
ENV_PASSWORD = "COORDBOT_MATRIX_PASSWORD"
ENV_ACCESS_TOKEN = "COORDBOT_MATRIX_ACCESS_TOKEN"
ENV_STORE_KEY = "COORDBOT_STORE_KEY"
MIN_STORE_KEY = 16  # characters
_SERVER_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$")
_USER_RE = re.compile(r"^@[^:\s]+:[A-Za-z0-9.\-]+(:\d{1,5})?$")


class ConfigError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class MatrixConfig:
    homeserver: str
    user_id: str
    password: str | None = field(repr=False)
    device_name: str
    store_path: Path  # where an earlier version kept its store: imported once, then unused
    # "share": room keys go to every device of the room's members that is not blacklisted
    # (members' devices are rarely verified by a bot); "refuse": only to verified devices.
    unverified_devices: str = "share"
    access_token: str | None = field(default=None, repr=False)  # with device_id, not password
    device_id: str | None = None
    store_key: str | None = field(default=None, repr=False)  # seals the secrets in the database


@dataclass(frozen=True)
class StorageConfig:
    database: str


@dataclass(frozen=True)
class BotConfig:
    command_prefixes: tuple[str, ...] = ("!", "/")
    language: str = "fr"
    timezone: str = "Europe/Brussels"
    allowed_servers: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    require_cross_signed_devices: tuple[str, ...] = ()
    catch_up_seconds: int = 3600
    undecryptable_notice_seconds: int = 30
    max_command_length: int = 4000
    rate_limit_per_minute: int = 20
    case_ref_pattern: str = r"[A-Za-z0-9][A-Za-z0-9._/-]{1,39}"

    def allows(self, user_id: str) -> bool:
        """Whether the bot listens to `user_id`: its server is one of `allowed_servers`."""
        return user_id.split(":", 1)[-1].lower() in self.allowed_servers


@dataclass(frozen=True)
class MetricsConfig:
    listen: str | None = None


@dataclass(frozen=True)
class RetentionConfig:
    proposals_seconds: int = 730 * 86400
    audit_seconds: int = 3650 * 86400


@dataclass(frozen=True)
class Config:
    matrix: MatrixConfig
    storage: StorageConfig
    bot: BotConfig = field(default_factory=BotConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    source: Path | None = None

    @property
    def server_name(self) -> str:
        return self.matrix.user_id.split(":", 1)[1]


def load_config(path: str | Path, env: dict[str, str] | None = None) -> Config:
    """Read and validate a configuration file; raises ConfigError listing every problem."""
    env = dict(os.environ if env is None else env)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror})"]) from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML ({exc})"]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: the top level must be a mapping"])
    return parse_config(raw, base=path.resolve().parent, env=env, source=path.resolve())


# Each section's keys; any other key is reported as unknown.
SECTION_KEYS = {
    "matrix": {"homeserver", "user_id", "password", "access_token", "device_id", "store_key",
               "device_name", "store_path", "unverified_devices"},
    "storage": {"database"},
    "bot": {"command_prefixes", "language", "timezone", "allowed_servers", "admins",
            "require_cross_signed_devices", "catch_up", "undecryptable_notice",
            "max_command_length", "rate_limit_per_minute", "case_ref_pattern"},
    "metrics": {"listen"},
    "retention": {"proposals", "audit"},
}


def parse_config(raw: dict[str, Any], *, base: Path, env: dict[str, str],
                 source: Path | None = None) -> Config:
    """The configuration in `raw`, section by section; raises ConfigError naming every
    problem by its key."""
    r = Reader(raw)
    for key in raw:
        if key not in SECTION_KEYS:
            r.problems.append(f"{key}: unknown section")
    matrix = _matrix(r, base, env)
    storage = _storage(r, base)
    if storage.database.startswith("postgresql") and not matrix.store_key:
        r.problems.append(f"matrix.store_key: required with PostgreSQL (or {ENV_STORE_KEY}): it "
                          "encrypts the end-to-end encryption secrets kept in the database")
    bot = _bot(r, matrix.user_id)
    metrics = _metrics(r)
    retention = _retention(r)
    _unknown_keys(r, raw)
    if r.problems:
        raise ConfigError(r.problems)
    return Config(matrix=matrix, storage=storage, bot=bot, metrics=metrics,
                  retention=retention, source=source)


def _matrix(r: Reader, base: Path, env: dict[str, str]) -> MatrixConfig:
    m = r.section("matrix", required=True)
    homeserver = r.get(m, "homeserver", str, required=True)
    if homeserver and not re.match(r"^https?://", homeserver):
        r.problems.append("matrix.homeserver: must start with http:// or https://")
    user_id = r.get(m, "user_id", str, required=True)
    if user_id and not _USER_RE.match(user_id):
        r.problems.append(
            f"matrix.user_id: {user_id!r} is not a Matrix user id like @bot:example.org")
        user_id = None
    password = env.get(ENV_PASSWORD) or r.get(m, "password", str)
    token = env.get(ENV_ACCESS_TOKEN) or r.get(m, "access_token", str)
    device_id = r.get(m, "device_id", str)
    if token and not device_id:
        r.problems.append("matrix.device_id: missing: the device matrix.access_token belongs to")
    if device_id and not token:
        r.problems.append(f"matrix.access_token: missing (or {ENV_ACCESS_TOKEN}): "
                          "matrix.device_id is given, the token of that device is not")
    store_key = env.get(ENV_STORE_KEY) or r.get(m, "store_key", str)
    if store_key is not None and len(store_key) < MIN_STORE_KEY:
        r.problems.append(f"matrix.store_key: too short to protect anything ({MIN_STORE_KEY} "
                          "characters or more)")
    store = r.get(m, "store_path", str, "./data/store")
    device_name = r.get(m, "device_name", str, "coordbot")
    unverified = r.get(m, "unverified_devices", str, "share")
    if unverified not in ("share", "refuse"):
        r.problems.append("matrix.unverified_devices: must be share or refuse")
    return MatrixConfig(homeserver=homeserver.rstrip("/") if homeserver else homeserver,
                        user_id=user_id, password=password, device_name=device_name,
                        store_path=_resolve(base, store), unverified_devices=unverified,
                        access_token=token, device_id=device_id, store_key=store_key)


def _storage(r: Reader, base: Path) -> StorageConfig:
    s = r.section("storage")
    database = r.get(s, "database", str, "sqlite:///./data/coordbot.db")
    if database and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", database):
        r.problems.append("storage.database: must be a sqlite:/// or postgresql+psycopg:// URL")
    return StorageConfig(database=_resolve_db(base, database))


def _bot(r: Reader, user_id: str | None) -> BotConfig:
    b = r.section("bot")
    prefixes = r.str_list(b, "command_prefixes", ("!", "/"))
    if not prefixes or any(not p or " " in p for p in prefixes):
        r.problems.append(
            "bot.command_prefixes: needs at least one non-empty prefix without spaces")
    language = r.get(b, "language", str, "fr")
    if language not in LANGUAGES:
        r.problems.append(f"bot.language: must be one of {', '.join(LANGUAGES)}")
    timezone = r.get(b, "timezone", str, "Europe/Brussels")
    try:
        check_zone(timezone)
    except RecurrenceError:
        r.problems.append(f"bot.timezone: {timezone!r} is not an IANA time zone")
    servers = r.str_list(b, "allowed_servers", ())
    for srv in servers:
        if not _SERVER_RE.match(srv):
            r.problems.append(f"bot.allowed_servers: {srv!r} is not a server name")
    if not servers and user_id:
        servers = (user_id.split(":", 1)[1],)
    admins = r.str_list(b, "admins", ())
    for adm in admins:
        if not _USER_RE.match(adm):
            r.problems.append(f"bot.admins: {adm!r} is not a Matrix user id")
    kinds = r.str_list(b, "require_cross_signed_devices", ())
    for kind in kinds:
        if kind not in ROOM_KINDS:
            r.problems.append(f"bot.require_cross_signed_devices: {kind!r} is not a room kind")
    catch_up = r.duration(b, "catch_up", 3600)
    undecryptable = r.duration(b, "undecryptable_notice", 30)
    max_len = r.get(b, "max_command_length", int, 4000)
    rate = r.get(b, "rate_limit_per_minute", int, 20)
    if rate is not None and rate < 0:
        r.problems.append("bot.rate_limit_per_minute: must be 0 (off) or more")
    case_ref = r.get(b, "case_ref_pattern", str, BotConfig.case_ref_pattern)
    try:
        re.compile(case_ref)
    except re.error as exc:
        r.problems.append(f"bot.case_ref_pattern: not a regular expression ({exc})")
    return BotConfig(
        command_prefixes=prefixes, language=language, timezone=timezone,
        allowed_servers=tuple(s.lower() for s in servers), admins=admins,
        require_cross_signed_devices=kinds, catch_up_seconds=catch_up,
        undecryptable_notice_seconds=undecryptable, max_command_length=max_len,
        rate_limit_per_minute=rate, case_ref_pattern=case_ref)


def _metrics(r: Reader) -> MetricsConfig:
    mt = r.section("metrics")
    listen = r.get(mt, "listen", str)
    if listen and not re.match(r"^[\w.\-\[\]:]+:\d{1,5}$", listen):
        r.problems.append("metrics.listen: must be host:port, e.g. 127.0.0.1:9464")
    return MetricsConfig(listen=listen)


def _retention(r: Reader) -> RetentionConfig:
    rt = r.section("retention")
    return RetentionConfig(proposals_seconds=r.duration(rt, "proposals", 730 * 86400),
                           audit_seconds=r.duration(rt, "audit", 3650 * 86400))


def _unknown_keys(r: Reader, raw: dict[str, Any]) -> None:
    for section, allowed in SECTION_KEYS.items():
        sec = raw.get(section)
        if isinstance(sec, dict):
            for key in sec:
                if key not in allowed:
                    r.problems.append(f"{section}.{key}: unknown key")


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _resolve_db(base: Path, url: str) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != "sqlite:///:memory:":
        rest = url[len(prefix):]
        if not rest.startswith("/"):
            return prefix + str((base / rest).resolve())
    return url
