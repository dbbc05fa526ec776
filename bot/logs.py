"""Logging that never carries a secret."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

_TOKEN_PATTERNS = [
    re.compile(r"(access_token[\"']?\s*[=:]\s*[\"']?)[\w\-.~+/]+", re.IGNORECASE),
    re.compile(r"(Bearer\s+)[\w\-.~+/]+", re.IGNORECASE),
    re.compile(r"(\"password\"\s*:\s*\")[^\"]*", re.IGNORECASE),
    # Synapse's access and refresh tokens; Matrix Authentication Service's access, refresh
    # and compatibility tokens
    re.compile(r"\b(?:syt|syr|mat|mar|mct|mcr)_[A-Za-z0-9_]+"),
    re.compile(r"(store_key[\"']?\s*[=:]\s*[\"']?)[^\s\"',}]+", re.IGNORECASE),
]


class RedactSecrets(logging.Filter):
    """Replaces known secret values and token-shaped strings in every record."""

    def __init__(self, secrets: Iterable[str | None] = ()):
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4 and secret not in self.secrets:
            self.secrets.append(secret)

    def redact(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "[redacted]")
        for pat in _TOKEN_PATTERNS:
            text = pat.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = self.redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def setup_logging(level: str = "INFO", secrets: Iterable[str | None] = (),
                  stream=None) -> RedactSecrets:
    redactor = RedactSecrets(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("nio", "peewee", "aiohttp.access", "apscheduler", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return redactor
