"""Recurrence rules as users type them: presets, validation to one canonical RRULE text,
UNTIL as an instant, and the zones wall-clock times are read in.

UNTIL is an instant: ``YYYYMMDD`` means the end of that local day (23:59:59),
``YYYYMMDDTHHMMSS`` a local wall-clock time and ``YYYYMMDDTHHMMSSZ`` a UTC time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from math import gcd
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

PRESETS: dict[str, str] = {
    "weekly": "FREQ=WEEKLY",
    "monthly": "FREQ=MONTHLY",
    "bimonthly": "FREQ=MONTHLY;INTERVAL=2",
    "quarterly": "FREQ=MONTHLY;INTERVAL=3",
}
_ORDER = ("FREQ", "UNTIL", "COUNT", "INTERVAL", "BYMONTH", "BYWEEKNO", "BYYEARDAY",
          "BYMONTHDAY", "BYDAY", "BYHOUR", "BYMINUTE", "BYSECOND", "BYSETPOS", "WKST")
# Accepted frequencies -> number of their periods in one 400-year Gregorian cycle.
_CYCLE = {"DAILY": 146097, "WEEKLY": 20871, "MONTHLY": 4800, "YEARLY": 400}
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# part -> (lowest absolute value, highest, negative values allowed)
_INT_LISTS = {"BYSECOND": (0, 59, False), "BYMINUTE": (0, 59, False), "BYHOUR": (0, 23, False),
              "BYMONTH": (1, 12, False), "BYMONTHDAY": (1, 31, True),
              "BYYEARDAY": (1, 366, True), "BYWEEKNO": (1, 53, True), "BYSETPOS": (1, 366, True)}
_BYDAY_RE = re.compile(r"([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL_RE = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")


class RecurrenceError(ValueError):
    """A series or rule that cannot be accepted; ``code`` is machine-readable."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    def __str__(self) -> str:
        return f"{self.code} {self.params}" if self.params else self.code


def _invalid(detail: str) -> RecurrenceError:
    return RecurrenceError("invalid_rrule", detail=detail)


def _int(value: str, low: int, high: int, signed: bool) -> int:
    try:
        number = int(value)
    except ValueError:
        raise _invalid(f"not a number: {value}") from None
    if not low <= (abs(number) if signed else number) <= high or (signed and number == 0):
        raise _invalid(f"out of range: {value}")
    return number


def _check_part(key: str, value: str, freq: str) -> str:
    if key in _INT_LISTS:
        low, high, signed = _INT_LISTS[key]
        return ",".join(str(_int(v, low, high, signed)) for v in value.split(","))
    if key in ("COUNT", "INTERVAL"):
        return str(_int(value, 1, 10**6, False))
    if key == "WKST":
        if value not in _DAYS:
            raise _invalid(f"WKST={value}")
        return value
    if key == "UNTIL":
        _parse_until(value)
        return value
    days = []  # BYDAY
    for item in value.split(","):
        match = _BYDAY_RE.fullmatch(item)
        if match is None:
            raise _invalid(f"BYDAY={item}")
        sign, number, day = match.groups()
        if number is None:
            days.append(day)
            continue
        if freq not in ("MONTHLY", "YEARLY"):
            raise _invalid(f"BYDAY={item} needs FREQ=MONTHLY or YEARLY")
        days.append(f"{'-' if sign == '-' else ''}{_int(number, 1, 53, False)}{day}")
    return ",".join(days)


def normalize_rule(text: str | None) -> str | None:
    """Return the canonical RRULE text (no ``RRULE:`` prefix) or None for a one-off."""
    if text is None or not text.strip():
        return None
    if text.strip().lower() in PRESETS:
        return PRESETS[text.strip().lower()]
    body = "".join(text.split()).upper()
    if "DTSTART" in body:
        raise _invalid("DTSTART is not allowed in the rule")
    body = body.removeprefix("RRULE:")
    parts: dict[str, str] = {}
    for item in filter(None, body.split(";")):
        key, sep, value = item.partition("=")
        if not sep or not value or key not in _ORDER:
            raise _invalid(f"unknown part: {item}")
        if key in parts:
            raise _invalid(f"repeated part: {key}")
        parts[key] = value
    freq = parts.get("FREQ", "")
    if freq not in _CYCLE:  # also refuses HOURLY and finer: meetings are not hourly
        raise _invalid(f"FREQ={freq}" if freq else "FREQ is missing")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("count_and_until")
    for key, value in parts.items():
        parts[key] = _check_part(key, value, freq) if key != "FREQ" else value
    canonical = ";".join(f"{key}={parts[key]}" for key in _ORDER if key in parts)
    try:
        rrulestr(without_until(canonical), dtstart=datetime(2026, 1, 1, 10))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise _invalid(str(exc)) from None
    return canonical


def without_until(rule: str) -> str:
    return ";".join(p for p in rule.split(";") if not p.startswith("UNTIL="))


def _parse_until(value: str) -> tuple[datetime, bool]:
    """(naive value, is UTC) of an UNTIL value; date-only means the end of that day."""
    match = _UNTIL_RE.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        day, clock, zulu = match.groups()
        parsed = datetime.strptime(day + (clock or "235959"), "%Y%m%d%H%M%S")
    except ValueError:
        raise _invalid(f"UNTIL={value}") from None
    return parsed, bool(zulu)


def until_instant(rule: str | None, tz: str) -> datetime | None:
    """The aware UTC instant of the rule's UNTIL, or None when it has none."""
    for part in (normalize_rule(rule) or "").split(";"):
        if part.startswith("UNTIL="):
            value, zulu = _parse_until(part[6:])
            aware = value.replace(tzinfo=UTC) if zulu else to_aware(value, tz)
            return aware.astimezone(UTC)
    return None


@lru_cache(maxsize=512)
def check_zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA zone name, or RecurrenceError("unknown_zone")."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, TypeError, OSError):
        raise RecurrenceError("unknown_zone", zone=name) from None


def to_aware(naive: datetime, tz: str) -> datetime:
    """Attach the zone to a wall-clock time (gap: offset before it; ambiguous: first)."""
    if naive.tzinfo is not None:
        raise ValueError("to_aware expects a naive datetime")
    zone = check_zone(tz)
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)


def never_fires(rule: str, start: datetime) -> bool:
    """True when the rule (ignoring COUNT/UNTIL) generates nothing at all.

    The generated pattern repeats every ``k`` 400-year cycles, so the check runs on a
    start moved to the last whole repetition before year 9999: an empty rule is then
    walked over at most a few centuries instead of the full calendar.
    """
    parts = dict(p.split("=", 1) for p in rule.split(";"))
    bare = ";".join(f"{k}={v}" for k, v in parts.items() if k not in ("COUNT", "UNTIL"))
    interval = int(parts.get("INTERVAL", "1"))
    periods = _CYCLE[parts["FREQ"]]
    years = 400 * (interval // gcd(interval, periods))
    shift = max(0, (9998 - years - start.year) // years) * years
    probe = start.replace(year=start.year + shift)
    return rrulestr(bare, dtstart=probe).after(probe, inc=True) is None
