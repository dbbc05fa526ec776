"""Meeting series: recurrence rules, time zones and occurrence expansion.

All series times are naive local wall-clock values in the series zone. Rules are
expanded on those naive values and the zone is attached last (see ``to_aware``):

* a wall-clock time inside a spring-forward gap is read with the offset in force
  before the gap (RFC 5545 §3.3.5), so 02:30 on 2026-03-29 in Brussels is 03:30 CEST;
* an ambiguous wall-clock time (fall back) is its first instance (``fold=0``).

UNTIL is an instant: ``YYYYMMDD`` means the end of that local day (23:59:59),
``YYYYMMDDTHHMMSS`` a local wall-clock time and ``YYYYMMDDTHHMMSSZ`` a UTC time.
An occurrence belongs to the rule when its aware start is not after that instant.
COUNT counts generated occurrences, cancelled ones included (as EXDATE does).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from math import gcd
from types import MappingProxyType
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

MAX_DURATION = timedelta(hours=24)
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
_PAD = timedelta(days=2)


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
        rrulestr(_without_until(canonical), dtstart=datetime(2026, 1, 1, 10))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise _invalid(str(exc)) from None
    return canonical


def _without_until(rule: str) -> str:
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


@dataclass(frozen=True)
class Series:
    start: datetime
    tz: str
    duration: timedelta
    rule: str | None = None
    cancelled: frozenset[datetime] = frozenset()
    moved: Mapping[datetime, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None:
            raise ValueError("Series.start must be a naive local wall-clock time")
        object.__setattr__(self, "cancelled", frozenset(self.cancelled))
        object.__setattr__(self, "moved", MappingProxyType(dict(self.moved)))

    def __hash__(self) -> int:
        return hash((self.start, self.tz, self.duration, self.rule, self.cancelled,
                     frozenset(self.moved.items())))


@dataclass(frozen=True)
class Occurrence:
    """One meeting of a series.

    ``original`` (naive) is the rule-generated start and identifies the occurrence.
    ``start`` is aware in the series zone and always has ``fold=0``; ``end`` is
    ``start`` plus the duration in elapsed time, so across a fall-back it may carry
    ``fold=1``: subtract or compare ends through UTC.
    """

    original: datetime
    start: datetime
    end: datetime
    moved: bool
    cancelled: bool = False


@dataclass(frozen=True)
class _Plan:
    rule: rrule | None  # None: a one-off, or a rule that never fires
    until: datetime | None
    tz: str
    one_off: bool = False

    def keeps(self, naive: datetime) -> bool:
        return self.until is None or to_aware(naive, self.tz) <= self.until


def _never_fires(rule: str, start: datetime) -> bool:
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


@lru_cache(maxsize=512)
def _plan(rule_text: str | None, start: datetime, tz: str) -> _Plan:
    rule = normalize_rule(rule_text)
    if rule is None or _never_fires(rule, start):
        return _Plan(None, None, tz, one_off=rule is None)
    expansion = rrulestr(_without_until(rule), dtstart=start, cache=True)
    until = until_instant(rule, tz)
    if until is not None:  # a loose naive bound stops dateutil; ``keeps`` is exact
        expansion = expansion.replace(until=_local(until, tz, _PAD))
    return _Plan(expansion, until, tz)


def _generated(series: Series, low: datetime, high: datetime = datetime.max) -> Iterator[datetime]:
    """Naive originals generated in [low, high], in wall-clock order, lazily."""
    plan = _plan(series.rule, series.start, series.tz)
    if plan.rule is None:
        if plan.one_off and low <= series.start <= high:
            yield series.start
        return
    if high == datetime.max:
        found = plan.rule.xafter(low, inc=True)
    else:
        found = plan.rule.between(low, high, inc=True)
    yield from (g for g in found if plan.keeps(g))


def is_in_series(series: Series, original: datetime) -> bool:
    """True when ``original`` (naive) is a start generated by the series rule."""
    plan = _plan(series.rule, series.start, series.tz)
    if plan.rule is None:
        return plan.one_off and original == series.start
    return plan.rule.after(original, inc=True) == original and plan.keeps(original)


def validate_new_series(series: Series, now: datetime) -> None:
    """Raise RecurrenceError unless the series can be scheduled after ``now`` (aware)."""
    check_zone(series.tz)
    if series.duration <= timedelta(0):
        raise RecurrenceError("zero_duration", duration=series.duration)
    if series.duration > MAX_DURATION:
        raise RecurrenceError("duration_too_long", duration=series.duration,
                              maximum=MAX_DURATION)
    normalize_rule(series.rule)
    first = first_original(series)
    if first is None:
        raise RecurrenceError("no_occurrence")
    start = to_aware(first, series.tz)
    if start <= now:
        raise RecurrenceError("past_date", start=start, now=now)


def _make(series: Series, original: datetime, new: datetime | None) -> Occurrence:
    start = to_aware(original if new is None else new, series.tz)
    end = (start.astimezone(UTC) + series.duration).astimezone(start.tzinfo)
    return Occurrence(original, start, end, new is not None, original in series.cancelled)


def live_moves(series: Series) -> dict[datetime, datetime]:
    """Moves that apply: original generated by the rule and a new time that differs."""
    return {o: n for o, n in series.moved.items() if o != n and is_in_series(series, o)}


def _local(moment: datetime, tz: str, shift: timedelta = timedelta(0)) -> datetime:
    """Naive wall-clock of an aware moment in ``tz``, shifted (clamped to the calendar)."""
    if moment.tzinfo is None:
        raise ValueError("window bounds must be aware datetimes")
    try:
        return moment.astimezone(check_zone(tz)).replace(tzinfo=None) + shift
    except OverflowError:
        return datetime.min if moment.year < 5000 else datetime.max


def _key(occurrence: Occurrence) -> tuple[datetime, datetime]:
    return occurrence.start, occurrence.original


def occurrences(series: Series, window_start: datetime, window_end: datetime, *,
                include_cancelled: bool = False) -> list[Occurrence]:
    """Occurrences whose (possibly moved) start lies in [window_start, window_end)."""
    low = _local(window_start, series.tz, -_PAD)
    high = _local(window_end, series.tz, _PAD)
    moves = live_moves(series)
    found = [_make(series, g, None) for g in _generated(series, low, high) if g not in moves]
    found += [_make(series, o, n) for o, n in moves.items()]
    return sorted((o for o in found if window_start <= o.start < window_end
                   and (include_cancelled or not o.cancelled)),
                  key=_key)


def next_occurrences(series: Series, after: datetime, count: int) -> list[Occurrence]:
    """The next ``count`` occurrences starting at or after ``after`` (aware)."""
    if count <= 0:
        return []
    moves = live_moves(series)
    found = [o for o in (_make(series, k, v) for k, v in moves.items())
             if o.start >= after and not o.cancelled]
    taken, stop = 0, None
    for g in _generated(series, _local(after, series.tz, -_PAD)):
        if stop is not None and g > stop:
            break
        if g in moves or g in series.cancelled:
            continue
        occurrence = _make(series, g, None)
        if occurrence.start < after:
            continue
        found.append(occurrence)
        taken += 1
        if taken == count:
            stop = g + _PAD  # later wall-clock times cannot start earlier
    found.sort(key=_key)
    return found[:count]


def find_occurrence(series: Series, local_date: date, *,
                    include_cancelled: bool = False) -> Occurrence | None:
    """The occurrence originally on ``local_date``, else the one moved onto it."""
    moves = live_moves(series)
    day = datetime.combine(local_date, time())
    for g in _generated(series, day, day + timedelta(days=1) - timedelta(microseconds=1)):
        occurrence = _make(series, g, moves.get(g))
        if include_cancelled or not occurrence.cancelled:
            return occurrence
    moved_here = [o for o in (_make(series, k, v) for k, v in moves.items())
                  if o.start.date() == local_date and (include_cancelled or not o.cancelled)]
    return min(moved_here, key=_key, default=None)


def first_original(series: Series) -> datetime | None:
    """The first start generated by the series (before cancellations and moves)."""
    return next(_generated(series, series.start), None)
