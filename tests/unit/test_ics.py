from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from hypothesis import HealthCheck, given, settings
from icalendar import Calendar

from bot.core.ics import series_to_ics
from bot.core.recurrence import Series, occurrences
from tests.unit.test_recurrence import series_strategy

BRU = "Europe/Brussels"
HOUR = timedelta(hours=1)
STAMP = datetime(2026, 1, 2, 8, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def export(series: Series, **extra) -> bytes:
    options = {"uid": "meeting-7@coordbot.example.org", "sequence": 3, "title": "Overleg LIVC",
               "place": "Stadhuis, zaal 2", "dtstamp": STAMP} | extra
    return series_to_ics(series, **options)


def events(ics: bytes) -> list:
    return Calendar.from_ical(ics).walk("VEVENT")


WEEKLY = Series(datetime(2026, 3, 15, 10), BRU, timedelta(minutes=90), "weekly",
                cancelled=frozenset({datetime(2026, 3, 29, 10), datetime(2026, 5, 3, 10)}),
                moved={datetime(2026, 4, 5, 10): datetime(2026, 4, 7, 14, 30),
                       datetime(2026, 10, 25, 10): datetime(2026, 10, 24, 9)})


def test_calendar_structure():
    ics = export(WEEKLY, description="Agenda volgt")
    calendar = Calendar.from_ical(ics)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == "-//coordbot//coordbot//EN"
    [vtimezone] = calendar.walk("VTIMEZONE")
    assert str(vtimezone["TZID"]) == BRU
    assert calendar.subcomponents.index(vtimezone) < calendar.subcomponents.index(
        calendar.walk("VEVENT")[0])
    master, *overrides = events(ics)
    assert "RECURRENCE-ID" not in master
    assert str(master["UID"]) == "meeting-7@coordbot.example.org"
    assert master["SEQUENCE"] == 3
    assert master["DTSTAMP"].dt == STAMP
    assert master["DTSTART"].params["TZID"] == BRU
    assert master["DTSTART"].dt.replace(tzinfo=None) == datetime(2026, 3, 15, 10)
    assert master["DURATION"].dt == timedelta(minutes=90)
    assert master["RRULE"].to_ical() == b"FREQ=WEEKLY"
    assert str(master["SUMMARY"]) == "Overleg LIVC"
    assert str(master["LOCATION"]) == "Stadhuis, zaal 2"
    assert str(master["DESCRIPTION"]) == "Agenda volgt"
    assert b"EXDATE;TZID=Europe/Brussels:20260329T100000,20260503T100000" in ics
    assert len(overrides) == 2
    by_id = {o["RECURRENCE-ID"].dt.replace(tzinfo=None): o for o in overrides}
    assert set(by_id) == {datetime(2026, 4, 5, 10), datetime(2026, 10, 25, 10)}
    moved = by_id[datetime(2026, 4, 5, 10)]
    assert moved["RECURRENCE-ID"].params["TZID"] == BRU
    assert moved["DTSTART"].dt.astimezone(UTC) == utc(2026, 4, 7, 12, 30)
    assert moved["DTEND"].dt.astimezone(UTC) == utc(2026, 4, 7, 14)
    assert all(str(o["UID"]) == str(master["UID"]) and o["SEQUENCE"] == 3 for o in overrides)


def test_uid_and_output_are_stable_and_sequence_is_as_given():
    assert export(WEEKLY) == export(WEEKLY)
    later = export(WEEKLY, sequence=4)
    assert {str(e["UID"]) for e in events(later)} == {"meeting-7@coordbot.example.org"}
    assert {e["SEQUENCE"] for e in events(later)} == {4}
    assert b"\r\n" in later


def test_until_is_written_in_utc():
    series = Series(datetime(2026, 5, 4, 18), BRU, HOUR, "FREQ=WEEKLY;UNTIL=20260525")
    assert b"RRULE:FREQ=WEEKLY;UNTIL=20260525T215959Z" in export(series)
    local = Series(datetime(2026, 1, 5, 18), BRU, HOUR,
                   "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260202T180000")
    assert b"RRULE:FREQ=WEEKLY;UNTIL=20260202T170000Z;BYDAY=MO" in export(local)


def test_gap_start_is_written_as_generated():
    series = Series(datetime(2026, 3, 29, 2, 30), BRU, HOUR, "weekly")
    assert b"DTSTART;TZID=Europe/Brussels:20260329T023000" in export(series)


def test_start_off_the_rule_is_replaced_by_the_first_occurrence():
    series = Series(datetime(2026, 2, 2, 14), BRU, HOUR, "FREQ=MONTHLY;BYDAY=1TH")
    [master] = events(export(series))
    assert master["DTSTART"].dt.replace(tzinfo=None) == datetime(2026, 2, 5, 14)


def test_one_off_moved_is_the_master_at_its_new_time():
    series = Series(datetime(2026, 6, 1, 9), BRU, HOUR,
                    moved={datetime(2026, 6, 1, 9): datetime(2026, 6, 3, 11)})
    [event] = events(export(series))
    assert "RRULE" not in event and "RECURRENCE-ID" not in event
    assert event["DTSTART"].dt.astimezone(UTC) == utc(2026, 6, 3, 9)
    assert event["DTEND"].dt.astimezone(UTC) == utc(2026, 6, 3, 10)
    assert "STATUS" not in event


def test_cancelled_one_off_is_marked_cancelled():
    series = Series(datetime(2026, 6, 1, 9), BRU, HOUR, cancelled={datetime(2026, 6, 1, 9)})
    [event] = events(export(series))
    assert str(event["STATUS"]) == "CANCELLED"


def test_utc_series_needs_no_vtimezone():
    ics = export(Series(datetime(2026, 6, 1, 9), "UTC", HOUR, "weekly"), place=None)
    assert Calendar.from_ical(ics).walk("VTIMEZONE") == []
    assert b"DTSTART:20260601T090000Z" in ics
    assert b"LOCATION" not in ics


def test_end_in_the_repeated_hour_is_written_in_utc():
    series = Series(datetime(2026, 10, 25, 2, 0), BRU, HOUR)  # ends at the second 02:00
    [event] = events(export(series))
    assert event["DTEND"].dt == utc(2026, 10, 25, 1)


# --- cross-check with an independent reader ------------------------------------------

def read_back(ics: bytes, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
    found = recurring_ical_events.of(Calendar.from_ical(ics)).between(a, b)
    pairs = [(e["DTSTART"].dt.astimezone(UTC), e["DTEND"].dt.astimezone(UTC)) for e in found
             if e.get("STATUS") != "CANCELLED"]
    return sorted(p for p in pairs if a <= p[0] < b)


def expected(series: Series, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(series.tz)
    pairs = []
    for occ in occurrences(series, a, b):
        end = occ.end
        if series.rule is not None and not occ.moved:
            # recurring_ical_events adds the master's DURATION on the wall clock (RFC
            # 5545 makes hours exact); it differs from ``end`` only across a DST change.
            end = (occ.original + series.duration).replace(tzinfo=zone)
        pairs.append((occ.start.astimezone(UTC), end.astimezone(UTC)))
    return sorted(pairs)


CROSS = [
    WEEKLY,
    Series(datetime(2026, 3, 22, 2, 30), BRU, HOUR, "FREQ=WEEKLY;BYDAY=SU;UNTIL=20271231",
           cancelled={datetime(2026, 4, 12, 2, 30)},
           moved={datetime(2026, 3, 29, 2, 30): datetime(2026, 3, 29, 2, 45),
                  datetime(2026, 10, 25, 2, 30): datetime(2026, 10, 25, 2, 15)}),
    Series(datetime(2026, 1, 1, 14), BRU, timedelta(hours=2), "FREQ=MONTHLY;BYDAY=1TH",
           moved={datetime(2026, 5, 7, 14): datetime(2026, 5, 8, 9)}),
    Series(datetime(2026, 1, 31, 10), BRU, HOUR, "monthly"),
    Series(datetime(2026, 2, 10, 9), BRU, HOUR, "bimonthly", cancelled={datetime(2026, 6, 10, 9)}),
    Series(datetime(2026, 3, 5, 19), "America/New_York", HOUR, "quarterly"),
    Series(datetime(2026, 4, 1, 2, 30), "Australia/Sydney", HOUR, "FREQ=DAILY;COUNT=20"),
    Series(datetime(2026, 10, 1, 2, 15), "Australia/Sydney", HOUR,
           "FREQ=WEEKLY;BYDAY=SU;UNTIL=20261105T120000Z"),
    Series(datetime(2026, 3, 8, 2, 30), "America/New_York", HOUR),
    Series(datetime(2026, 6, 1, 9), "UTC", HOUR, "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH"),
]


@pytest.mark.parametrize("series", CROSS, ids=range(len(CROSS)))
def test_reader_expands_the_same_occurrences(series):
    a, b = utc(2026, 1, 1), utc(2028, 1, 1)
    want = expected(series, a, b)
    assert want
    assert read_back(export(series), a, b) == want


def test_reader_sees_gap_occurrence_at_half_past_three():
    ics = export(Series(datetime(2026, 3, 22, 2, 30), BRU, HOUR, "weekly"))
    starts = [s for s, _ in read_back(ics, utc(2026, 3, 28), utc(2026, 3, 30))]
    assert starts == [utc(2026, 3, 29, 1, 30)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series_strategy())
def test_property_reader_agrees(series):
    a = utc(series.start.year, 1, 1)
    b = utc(series.start.year + 2, 1, 1)
    assert read_back(export(series), a, b) == expected(series, a, b)
