"""Durations as users type them: 90m, 2h, 5d, 1w (and combinations such as 1h30m; 30s too)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d{1,6})([smhdw])")
_WHOLE = re.compile(r"^(?:\d{1,6}[smhdw])+$")


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """Parse a positive duration; raises DurationError for anything else."""
    value = text.strip().lower()
    if not _WHOLE.match(value):
        raise DurationError(text)
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(value))
    if seconds <= 0:
        raise DurationError(text)
    return timedelta(seconds=seconds)


def format_duration(seconds: int) -> str:
    """The shortest canonical form: 604800 -> 1w, 5400 -> 1h30m."""
    if seconds <= 0:
        return "0m"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        n, seconds = divmod(seconds, _UNITS[unit])
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts) or "0m"
