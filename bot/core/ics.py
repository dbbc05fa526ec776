"""iCalendar (RFC 5545) export of a meeting series.

One VCALENDAR holds the VTIMEZONE of the series zone, a master VEVENT and one
overriding VEVENT (same UID and SEQUENCE, with RECURRENCE-ID) per moved occurrence.
Cancelled occurrences become EXDATEs; a cancelled one-off gets STATUS:CANCELLED.

Rule-generated times (master DTSTART, EXDATE, RECURRENCE-ID) are written as the
local wall-clock value the rule produces, so a reader expanding the RRULE finds the
same values. UNTIL is written in UTC, as RFC 5545 requires when DTSTART has a TZID.
The master carries DURATION (exact elapsed time); a moved occurrence or a one-off
carries DTEND, in UTC when its local wall-clock value would be ambiguous.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache

from icalendar import Calendar, Event, Timezone, vRecur

from bot.core.recurrence import (
    Series,
    check_zone,
    first_original,
    is_in_series,
    live_moves,
    normalize_rule,
    to_aware,
    until_instant,
)

_VTIMEZONE_YEARS = 30


@lru_cache(maxsize=64)
def _vtimezone(tz: str, first_year: int, last_year: int) -> bytes:
    component = Timezone.from_tzid(tz, first_date=date(first_year, 1, 1),
                                   last_date=date(last_year, 1, 1))
    return component.to_ical()


def _wall(naive: datetime, tz: str) -> datetime:
    """A rule-generated wall-clock value with its zone attached, not normalised."""
    return naive.replace(tzinfo=check_zone(tz))


def _exact(moment: datetime, tz: str) -> datetime:
    """``moment`` in the series zone, or in UTC when the local value would be misread."""
    local = moment.astimezone(check_zone(tz))
    return local if local.fold == 0 else moment.astimezone(UTC)


def _rrule(rule: str, tz: str) -> vRecur:
    until = until_instant(rule, tz)
    parts = [p for p in rule.split(";") if not p.startswith("UNTIL=")]
    if until is not None:
        parts.insert(1, "UNTIL=" + until.strftime("%Y%m%dT%H%M%SZ"))
    return vRecur.from_ical(";".join(parts))


def _event(uid: str, sequence: int, stamp: datetime, title: str, place: str | None,
           description: str | None) -> Event:
    event = Event()
    event.add("UID", uid)
    event.add("SEQUENCE", sequence)
    event.add("DTSTAMP", stamp)
    event.add("SUMMARY", title)
    if place:
        event.add("LOCATION", place)
    if description:
        event.add("DESCRIPTION", description)
    return event


def _year_span(series: Series, first: datetime, rule: str | None) -> tuple[int, int]:
    years = [first.year, *(d.year for pair in series.moved.items() for d in pair)]
    low = min(years)
    high = max(years) + 1
    if rule is not None:
        until = until_instant(rule, series.tz)
        horizon = low + _VTIMEZONE_YEARS
        high = max(high, min(horizon, until.year + 1) if until else horizon)
    return low, high + 1


def series_to_ics(series: Series, *, uid: str, sequence: int, title: str,
                  place: str | None, description: str | None = None, dtstamp: datetime,
                  prodid: str = "-//coordbot//coordbot//EN") -> bytes:
    """The series as an iCalendar file (bytes, CRLF line endings)."""
    tz = series.tz
    check_zone(tz)
    stamp = (dtstamp if dtstamp.tzinfo else dtstamp.replace(tzinfo=UTC)).astimezone(UTC)
    rule = normalize_rule(series.rule)
    moves = live_moves(series)
    calendar = Calendar()
    calendar.add("PRODID", prodid)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")

    master = _event(uid, sequence, stamp, title, place, description)
    first = first_original(series) if rule is not None else series.start
    if rule is None or first is None:  # a one-off, or a rule with nothing left
        start = to_aware(moves.get(series.start, series.start), tz)
        master.add("DTSTART", _exact(start, tz))
        master.add("DTEND", _exact(start.astimezone(UTC) + series.duration, tz))
        if first is None or series.start in series.cancelled:
            master.add("STATUS", "CANCELLED")
        calendar.add_component(master)
        first = series.start
    else:
        master.add("DTSTART", _wall(first, tz))
        master.add("DURATION", series.duration)
        master.add("RRULE", _rrule(rule, tz))
        exdates = sorted(c for c in series.cancelled if is_in_series(series, c))
        if exdates:
            master.add("EXDATE", [_wall(c, tz) for c in exdates])
        calendar.add_component(master)
        for original, new in sorted(moves.items()):
            if original in series.cancelled:
                continue
            start = to_aware(new, tz)
            override = _event(uid, sequence, stamp, title, place, description)
            override.add("RECURRENCE-ID", _wall(original, tz))
            override.add("DTSTART", _exact(start, tz))
            override.add("DTEND", _exact(start.astimezone(UTC) + series.duration, tz))
            calendar.add_component(override)

    if tz in calendar.get_missing_tzids():
        vtimezone = Timezone.from_ical(_vtimezone(tz, *_year_span(series, first, rule)))
        calendar.subcomponents.insert(0, vtimezone)
    return calendar.to_ical()
