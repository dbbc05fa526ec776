from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.core.recurrence import (
    PRESETS,
    RecurrenceError,
    Series,
    check_zone,
    find_occurrence,
    first_original,
    is_in_series,
    next_occurrences,
    normalize_rule,
    occurrences,
    to_aware,
    validate_new_series,
)

BRU = "Europe/Brussels"
HOUR = timedelta(hours=1)
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def starts_utc(series: Series, a: datetime, b: datetime) -> list[datetime]:
    return [o.start.astimezone(UTC) for o in occurrences(series, a, b)]


# --- zones and DST -------------------------------------------------------------------

def test_to_aware_gap_uses_offset_before_the_gap():
    aware = to_aware(datetime(2026, 3, 29, 2, 30), BRU)
    assert (aware.hour, aware.minute) == (3, 30)
    assert aware.utcoffset() == timedelta(hours=2)
    assert aware.astimezone(UTC) == utc(2026, 3, 29, 1, 30)
    assert aware.tzinfo.key == BRU


def test_to_aware_ambiguous_takes_first_instance():
    aware = to_aware(datetime(2026, 10, 25, 2, 30), BRU)
    assert (aware.hour, aware.minute, aware.fold) == (2, 30, 0)
    assert aware.utcoffset() == timedelta(hours=2)
    assert aware.astimezone(UTC) == utc(2026, 10, 25, 0, 30)


def test_to_aware_ordinary_times_and_new_york_gap():
    assert to_aware(datetime(2026, 7, 1, 10), BRU).astimezone(UTC) == utc(2026, 7, 1, 8)
    assert to_aware(datetime(2026, 1, 5, 10), BRU).astimezone(UTC) == utc(2026, 1, 5, 9)
    ny = to_aware(datetime(2026, 3, 8, 2, 15), "America/New_York")
    assert ny.astimezone(UTC) == utc(2026, 3, 8, 7, 15)
    assert (ny.hour, ny.minute) == (3, 15)


def test_weekly_sunday_ten_keeps_local_time_across_both_transitions():
    series = Series(datetime(2026, 3, 15, 10), BRU, HOUR, "weekly")
    found = occurrences(series, utc(2026, 3, 1), utc(2026, 11, 9))
    assert len(found) == 35
    assert all(o.start.weekday() == 6 and (o.start.hour, o.start.minute) == (10, 0)
               for o in found)
    offsets = {o.original.date(): o.start.utcoffset() for o in found}
    assert offsets[date(2026, 3, 22)] == timedelta(hours=1)
    assert offsets[date(2026, 3, 29)] == timedelta(hours=2)
    assert offsets[date(2026, 10, 18)] == timedelta(hours=2)
    assert offsets[date(2026, 10, 25)] == timedelta(hours=1)
    assert [o.start.astimezone(UTC).hour for o in found[:3]] == [9, 9, 8]
    assert found[-1].start.astimezone(UTC) == utc(2026, 11, 8, 9)
    assert found[0].end.astimezone(UTC) == utc(2026, 3, 15, 10)


def test_one_off_in_spring_gap_is_half_past_three_summer_time():
    series = Series(datetime(2026, 3, 29, 2, 30), BRU, HOUR)
    [occ] = occurrences(series, utc(2026, 3, 28), utc(2026, 3, 30))
    assert occ.original == datetime(2026, 3, 29, 2, 30)
    assert occ.start.astimezone(UTC) == utc(2026, 3, 29, 1, 30)
    assert (occ.start.hour, occ.start.minute) == (3, 30)
    assert occ.end.astimezone(UTC) == utc(2026, 3, 29, 2, 30)


def test_meeting_in_fall_back_hour_is_first_instance():
    series = Series(datetime(2026, 10, 25, 2, 30), BRU, HOUR)
    [occ] = occurrences(series, utc(2026, 10, 24), utc(2026, 10, 26))
    assert occ.start.astimezone(UTC) == utc(2026, 10, 25, 0, 30)
    assert occ.start.utcoffset() == timedelta(hours=2)
    # the end is one elapsed hour later: the second 02:30, in winter time
    assert occ.end.astimezone(UTC) == utc(2026, 10, 25, 1, 30)
    assert occ.end.utcoffset() == timedelta(hours=1)


def test_weekly_half_past_two_across_both_transitions():
    series = Series(datetime(2026, 3, 22, 2, 30), BRU, HOUR, "FREQ=WEEKLY;BYDAY=SU")
    got = {o.original.date(): o.start.astimezone(UTC)
           for o in occurrences(series, utc(2026, 3, 1), utc(2026, 11, 9))}
    assert got[date(2026, 3, 22)] == utc(2026, 3, 22, 1, 30)
    assert got[date(2026, 3, 29)] == utc(2026, 3, 29, 1, 30)  # 03:30 CEST
    assert got[date(2026, 4, 5)] == utc(2026, 4, 5, 0, 30)
    assert got[date(2026, 10, 25)] == utc(2026, 10, 25, 0, 30)  # first 02:30
    assert got[date(2026, 11, 1)] == utc(2026, 11, 1, 1, 30)
    assert len(got) == 34  # 22 March to 8 November
    assert find_occurrence(series, date(2026, 3, 29)).original == datetime(2026, 3, 29, 2, 30)


# --- presets and rules ---------------------------------------------------------------

def test_presets_map_to_rules():
    assert normalize_rule("Bimonthly") == "FREQ=MONTHLY;INTERVAL=2"
    assert normalize_rule("QUARTERLY") == PRESETS["quarterly"] == "FREQ=MONTHLY;INTERVAL=3"
    assert normalize_rule("weekly") == "FREQ=WEEKLY"
    assert normalize_rule(None) is None
    assert normalize_rule("") is None
    assert normalize_rule("   ") is None


def test_normalize_rule_is_canonical():
    assert normalize_rule("RRULE:freq=weekly;byday=mo,th") == "FREQ=WEEKLY;BYDAY=MO,TH"
    assert normalize_rule("BYDAY=+1TH;FREQ=MONTHLY") == "FREQ=MONTHLY;BYDAY=1TH"
    assert normalize_rule("INTERVAL=2;FREQ=WEEKLY;COUNT=5;") == "FREQ=WEEKLY;COUNT=5;INTERVAL=2"
    assert normalize_rule("FREQ=WEEKLY;UNTIL=20261231T235959Z") == (
        "FREQ=WEEKLY;UNTIL=20261231T235959Z")


def year_of(series: Series, year: int) -> list[datetime]:
    return [o.original for o in occurrences(series, utc(year, 1, 1), utc(year + 1, 1, 1))]


def test_bimonthly_is_six_a_year_and_quarterly_four():
    bimonthly = year_of(Series(datetime(2026, 2, 10, 9), BRU, HOUR, "bimonthly"), 2027)
    assert [d.month for d in bimonthly] == [2, 4, 6, 8, 10, 12]
    assert all(d.day == 10 and d.hour == 9 for d in bimonthly)
    quarterly = year_of(Series(datetime(2026, 3, 5, 14), BRU, HOUR, "quarterly"), 2027)
    assert [d.month for d in quarterly] == [3, 6, 9, 12]


def test_monthly_on_the_31st_skips_shorter_months():
    found = year_of(Series(datetime(2026, 1, 31, 10), BRU, HOUR, "monthly"), 2026)
    assert [d.month for d in found] == [1, 3, 5, 7, 8, 10, 12]
    assert {d.day for d in found} == {31}


def test_first_thursdays():
    found = year_of(Series(datetime(2026, 1, 1, 14), BRU, HOUR, "FREQ=MONTHLY;BYDAY=1TH"), 2026)
    assert [d.day for d in found] == [1, 5, 5, 2, 7, 4, 2, 6, 3, 1, 5, 3]
    assert all(d.weekday() == 3 for d in found)


def test_start_not_matching_the_rule_is_not_an_occurrence():
    series = Series(datetime(2026, 2, 2, 14), BRU, HOUR, "FREQ=MONTHLY;BYDAY=1TH")
    assert first_original(series) == datetime(2026, 2, 5, 14)
    assert not is_in_series(series, datetime(2026, 2, 2, 14))
    assert is_in_series(series, datetime(2026, 3, 5, 14))
    assert not is_in_series(series, datetime(2026, 3, 5, 15))


def test_until_date_includes_that_whole_day():
    series = Series(datetime(2026, 5, 4, 18), BRU, HOUR, "FREQ=WEEKLY;UNTIL=20260525")
    assert [d.day for d in year_of(series, 2026)] == [4, 11, 18, 25]


def test_until_local_time_and_utc_time():
    local = Series(datetime(2026, 5, 4, 18), BRU, HOUR, "FREQ=WEEKLY;UNTIL=20260525T180000")
    assert [d.day for d in year_of(local, 2026)] == [4, 11, 18, 25]
    # 16:30 UTC is 18:30 in Brussels: the 18:00 meeting on the 25th is included
    zulu = Series(datetime(2026, 5, 4, 18), BRU, HOUR, "FREQ=WEEKLY;UNTIL=20260525T163000Z")
    assert [d.day for d in year_of(zulu, 2026)] == [4, 11, 18, 25]
    early = Series(datetime(2026, 5, 4, 18), BRU, HOUR, "FREQ=WEEKLY;UNTIL=20260525T155959Z")
    assert [d.day for d in year_of(early, 2026)] == [4, 11, 18]


def test_count_includes_cancelled_occurrences():
    series = Series(datetime(2026, 5, 4, 18), BRU, HOUR, "FREQ=WEEKLY;COUNT=3",
                    cancelled=frozenset({datetime(2026, 5, 11, 18)}))
    assert [d.day for d in year_of(series, 2026)] == [4, 18]
    with_cancelled = occurrences(series, utc(2026, 1, 1), utc(2027, 1, 1), include_cancelled=True)
    assert [(o.original.day, o.cancelled) for o in with_cancelled] == [
        (4, False), (11, True), (18, False)]


# --- bad input -----------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "FREQ=SOMETIMES", "garbage", "RRULE:", ";", "FREQ", "INTERVAL=2", "FREQ=WEEKLY;INTERVAL=0",
    "FREQ=WEEKLY;BYMONTH=13", "FREQ=WEEKLY;BYDAY=1TH", "FREQ=WEEKLY;BYDAY=XX",
    "FREQ=WEEKLY;UNTIL=2026", "FREQ=WEEKLY;UNTIL=20260231", "FREQ=WEEKLY;FREQ=DAILY",
    "FREQ=WEEKLY;COUNT=0", "FREQ=WEEKLY;BYEASTER=0", "FREQ=HOURLY", "FREQ=MINUTELY",
    "FREQ=SECONDLY", "DTSTART:20260101T100000\nRRULE:FREQ=WEEKLY",
    "FREQ=WEEKLY;DTSTART=20260101T100000",
])
def test_invalid_rules(text):
    with pytest.raises(RecurrenceError) as caught:
        normalize_rule(text)
    assert caught.value.code == "invalid_rrule"
    assert caught.value.params["detail"]


def test_count_and_until():
    with pytest.raises(RecurrenceError) as caught:
        normalize_rule("FREQ=WEEKLY;COUNT=3;UNTIL=20261231")
    assert caught.value.code == "count_and_until"


def test_unknown_zone():
    with pytest.raises(RecurrenceError) as caught:
        check_zone("Europe/Bruxelles")
    assert caught.value.code == "unknown_zone"
    assert caught.value.params == {"zone": "Europe/Bruxelles"}
    assert check_zone(BRU) is ZoneInfo(BRU)
    for bad in ("", "../etc/passwd", "Europe"):
        with pytest.raises(RecurrenceError):
            check_zone(bad)


def code_of(series: Series, now: datetime = NOW) -> str | None:
    try:
        validate_new_series(series, now)
    except RecurrenceError as exc:
        return exc.code
    return None


def test_validate_new_series_codes():
    start = datetime(2026, 2, 2, 10)
    assert code_of(Series(start, BRU, HOUR, "weekly")) is None
    assert code_of(Series(start, BRU, HOUR)) is None
    assert code_of(Series(start, "Europe/Bruxelles", HOUR)) == "unknown_zone"
    assert code_of(Series(start, BRU, timedelta(0))) == "zero_duration"
    assert code_of(Series(start, BRU, -HOUR)) == "zero_duration"
    assert code_of(Series(start, BRU, timedelta(hours=24, minutes=1))) == "duration_too_long"
    assert code_of(Series(start, BRU, HOUR, "FREQ=SOMETIMES")) == "invalid_rrule"
    assert code_of(Series(start, BRU, HOUR, "garbage")) == "invalid_rrule"
    assert code_of(Series(start, BRU, HOUR, "FREQ=HOURLY")) == "invalid_rrule"
    assert code_of(Series(start, BRU, HOUR, "FREQ=DAILY;COUNT=2;UNTIL=20260301")) == (
        "count_and_until")
    assert code_of(Series(start, BRU, HOUR, "FREQ=WEEKLY;UNTIL=20260201")) == "no_occurrence"
    assert code_of(Series(datetime(2025, 12, 1, 10), BRU, HOUR)) == "past_date"
    assert code_of(Series(datetime(2025, 12, 1, 10), BRU, HOUR, "weekly")) == "past_date"


def test_past_date_boundary_is_exclusive():
    series = Series(datetime(2026, 1, 10, 13), BRU, HOUR)  # 12:00 UTC
    assert code_of(series, utc(2026, 1, 10, 12)) == "past_date"
    assert code_of(series, utc(2026, 1, 10, 11, 59)) is None


def test_rule_that_never_fires_is_refused_quickly():
    started = clock.monotonic()
    for rule in ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=DAILY;INTERVAL=7;BYDAY=TU",
                 "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31"):
        series = Series(datetime(2026, 2, 2, 10), BRU, HOUR, rule)  # a Monday
        assert code_of(series) == "no_occurrence"
        assert occurrences(series, utc(2026, 1, 1), utc(2030, 1, 1)) == []
        assert next_occurrences(series, utc(2026, 1, 1), 3) == []
    assert clock.monotonic() - started < 5


def test_rare_rule_is_accepted():
    series = Series(datetime(2026, 1, 5, 10), BRU, HOUR, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29")
    assert code_of(series) is None
    assert first_original(series) == datetime(2028, 2, 29, 10)


# --- cancellations, moves, lookups ---------------------------------------------------

MONDAYS = Series(datetime(2026, 6, 1, 9), BRU, timedelta(minutes=90), "weekly",
                 cancelled=frozenset({datetime(2026, 6, 15, 9)}),
                 moved={datetime(2026, 6, 8, 9): datetime(2026, 6, 10, 14),
                        datetime(2026, 6, 22, 9): datetime(2026, 7, 2, 9)})


def test_cancelled_and_moved_occurrences():
    found = occurrences(MONDAYS, utc(2026, 6, 1), utc(2026, 7, 7))
    assert [(o.start.strftime("%m-%d %H:%M"), o.moved) for o in found] == [
        ("06-01 09:00", False), ("06-10 14:00", True), ("06-29 09:00", False),
        ("07-02 09:00", True), ("07-06 09:00", False)]
    assert found[1].original == datetime(2026, 6, 8, 9)
    assert found[1].end.astimezone(UTC) == utc(2026, 6, 10, 13, 30)


def test_window_catches_occurrence_moved_from_far_away():
    found = occurrences(MONDAYS, utc(2026, 7, 1), utc(2026, 7, 3))
    assert [o.original for o in found] == [datetime(2026, 6, 22, 9)]
    assert occurrences(MONDAYS, utc(2026, 6, 22), utc(2026, 6, 23)) == []


def test_find_occurrence():
    assert find_occurrence(MONDAYS, date(2026, 6, 8)).start.day == 10
    assert find_occurrence(MONDAYS, date(2026, 6, 10)).original == datetime(2026, 6, 8, 9)
    assert find_occurrence(MONDAYS, date(2026, 6, 15)) is None
    assert find_occurrence(MONDAYS, date(2026, 6, 15), include_cancelled=True).cancelled
    assert find_occurrence(MONDAYS, date(2026, 6, 16)) is None
    assert find_occurrence(MONDAYS, date(2031, 3, 3)).start.astimezone(UTC) == utc(2031, 3, 3, 8)


def test_next_occurrences():
    found = next_occurrences(MONDAYS, utc(2026, 6, 2), 4)
    assert [o.start.strftime("%m-%d") for o in found] == ["06-10", "06-29", "07-02", "07-06"]
    assert next_occurrences(MONDAYS, utc(2026, 6, 2), 0) == []
    one_off = Series(datetime(2026, 6, 1, 9), BRU, HOUR)
    assert len(next_occurrences(one_off, utc(2026, 5, 1), 3)) == 1
    assert next_occurrences(one_off, utc(2026, 6, 1, 7, 1), 3) == []


def test_moves_of_unknown_originals_are_ignored():
    series = Series(datetime(2026, 6, 1, 9), BRU, HOUR, "weekly",
                    moved={datetime(2026, 6, 2, 9): datetime(2026, 6, 3, 9)})
    assert [o.original.day for o in occurrences(series, utc(2026, 6, 1), utc(2026, 6, 9))] == [1, 8]


def test_one_off_moved():
    series = Series(datetime(2026, 6, 1, 9), BRU, HOUR,
                    moved={datetime(2026, 6, 1, 9): datetime(2026, 6, 3, 11)})
    [occ] = occurrences(series, utc(2026, 1, 1), utc(2027, 1, 1))
    assert occ.moved and occ.start.astimezone(UTC) == utc(2026, 6, 3, 9)
    assert is_in_series(series, datetime(2026, 6, 1, 9))
    assert not is_in_series(series, datetime(2026, 6, 3, 11))


def test_forever_series_far_in_the_future_is_fast():
    series = Series(datetime(2026, 1, 6, 9), BRU, HOUR, "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR")
    started = clock.monotonic()
    found = occurrences(series, utc(2150, 3, 1), utc(2150, 3, 8))
    assert len(found) == 5 and all(o.start.hour == 9 for o in found)
    assert len(next_occurrences(series, utc(2150, 3, 1), 10)) == 10
    assert clock.monotonic() - started < 5


def test_series_is_hashable_and_compares_with_plain_dicts():
    a = Series(datetime(2026, 6, 1, 9), BRU, HOUR, "weekly", moved={datetime(2026, 6, 8, 9):
                                                                   datetime(2026, 6, 9, 9)})
    b = Series(datetime(2026, 6, 1, 9), BRU, HOUR, "weekly", moved=dict(a.moved))
    assert a == b and hash(a) == hash(b)
    with pytest.raises(TypeError):
        a.moved[datetime(2026, 6, 1, 9)] = datetime(2026, 6, 2, 9)
    with pytest.raises(ValueError):
        Series(datetime(2026, 6, 1, 9, tzinfo=UTC), BRU, HOUR)


# --- properties ----------------------------------------------------------------------

ZONES = [BRU, "America/New_York", "Australia/Sydney", "UTC"]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
BIG = (utc(2025, 12, 1), utc(2031, 1, 1))


@st.composite
def simple_rules(draw, start: datetime) -> str:
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={freq}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 4))}")
    if draw(st.booleans()):
        days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True))
        if freq == "MONTHLY" and draw(st.booleans()):
            days = [f"{draw(st.sampled_from([1, 2, 3, 4, -1]))}{d}" for d in days]
        parts.append("BYDAY=" + ",".join(days))
    end = draw(st.sampled_from(["none", "count", "until_date", "until_noon"]))
    if end == "count":
        parts.append(f"COUNT={draw(st.integers(1, 30))}")
    elif end != "none":
        until = start.date() + timedelta(days=draw(st.integers(0, 800)))
        noon = "T120000" if end == "until_noon" else ""
        parts.append("UNTIL=" + until.strftime("%Y%m%d") + noon)
    return ";".join(parts)


def reference_originals(series: Series) -> list[datetime]:
    """Independent expansion with dateutil over the big window (UNTIL as local time)."""
    if series.rule is None:
        return [series.start]
    text = normalize_rule(series.rule)
    parts = dict(p.split("=") for p in text.split(";"))
    until = parts.pop("UNTIL", None)
    rule = rrulestr(";".join(f"{k}={v}" for k, v in parts.items()), dtstart=series.start)
    if until:
        day = datetime.strptime(until[:8], "%Y%m%d")
        rule = rule.replace(until=day + (timedelta(hours=12) if "T" in until
                                         else timedelta(hours=23, minutes=59, seconds=59)))
    return list(rule.between(datetime(2025, 11, 28), datetime(2031, 1, 3), inc=True))


@st.composite
def series_strategy(draw) -> Series:
    tz = draw(st.sampled_from(ZONES))
    day = draw(st.dates(date(2026, 1, 1), date(2028, 12, 31)))
    hour = draw(st.one_of(st.integers(0, 23), st.sampled_from([1, 2])))  # 1-3 h: DST edges
    start = datetime.combine(day, time(hour, draw(st.sampled_from([0, 15, 30, 45]))))
    kind = draw(st.integers(0, 5))
    rule = None if kind == 0 else draw(st.sampled_from(sorted(PRESETS)) if kind < 3
                                       else simple_rules(start))
    duration = timedelta(minutes=15 * draw(st.integers(1, 16)))
    base = Series(start, tz, duration, rule)
    originals = reference_originals(base)[:40]
    if not originals:
        return base
    picked = draw(st.lists(st.sampled_from(originals), max_size=6, unique=True))
    split = draw(st.integers(0, len(picked)))
    moved = {}
    for original in picked[split:]:
        minutes = draw(st.integers(-288, 288).filter(bool)) * 15
        moved[original] = original + timedelta(minutes=minutes)
    return Series(start, tz, duration, rule, frozenset(picked[:split]), moved)


def instant(naive: datetime, tz: str) -> datetime:
    return naive.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def exists(naive: datetime, tz: str) -> bool:
    zone = ZoneInfo(tz)
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DST_SUNDAYS = Series(datetime(2026, 3, 22, 2, 30), BRU, HOUR, "FREQ=WEEKLY;COUNT=40",
                     frozenset({datetime(2026, 4, 5, 2, 30)}),
                     {datetime(2026, 3, 29, 2, 30): datetime(2026, 3, 29, 2, 45),
                      datetime(2026, 10, 25, 2, 30): datetime(2026, 10, 25, 2, 0),
                      datetime(2026, 4, 12, 2, 30): datetime(2027, 3, 28, 2, 15)})


@SETTINGS
@given(series_strategy())
@example(DST_SUNDAYS)
def test_property_occurrences_match_the_rule(series):
    reference = reference_originals(series)
    found = occurrences(series, *BIG)
    starts = [o.start for o in found]
    assert starts == sorted(starts)
    assert len({o.original for o in found}) == len(found)
    expected = {}
    for original in reference:
        if original in series.cancelled:
            continue
        at = series.moved.get(original, original)
        if BIG[0] <= instant(at, series.tz) < BIG[1]:
            expected[original] = instant(at, series.tz)
    assert {o.original: o.start.astimezone(UTC) for o in found} == expected
    for occ in found:
        assert occ.start.tzinfo.key == series.tz and occ.end.tzinfo.key == series.tz
        assert occ.end.astimezone(UTC) - occ.start.astimezone(UTC) == series.duration
        assert occ.original not in series.cancelled and not occ.cancelled
        wall = occ.start.replace(tzinfo=None)
        target = series.moved.get(occ.original, occ.original)
        assert occ.moved == (occ.original in series.moved)
        if exists(target, series.tz):
            assert wall == target
        else:  # in a spring-forward gap: pushed forward by the jump
            assert target < wall <= target + HOUR
        assert is_in_series(series, occ.original)


@SETTINGS
@given(series_strategy(), st.data())
def test_property_windows_are_slices_of_a_larger_window(series, data):
    big = occurrences(series, *BIG, include_cancelled=True)
    offsets = st.integers(0, int((BIG[1] - BIG[0]).total_seconds() // 900))
    a = BIG[0] + timedelta(minutes=15 * data.draw(offsets))
    b = a + timedelta(minutes=15 * data.draw(st.integers(0, 4 * 24 * 120)))
    b = min(b, BIG[1])
    assert occurrences(series, a, b, include_cancelled=True) == [
        o for o in big if a <= o.start < b]
    assert occurrences(series, a, b) == [o for o in big if a <= o.start < b and not o.cancelled]
    assert {o.original for o in big if o.cancelled} == {
        c for c in series.cancelled
        if BIG[0] <= instant(series.moved.get(c, c), series.tz) < BIG[1]}
    live = [o for o in big if not o.cancelled and o.start >= a]
    count = data.draw(st.integers(1, 8))
    following = next_occurrences(series, a, count)
    assert following[: len(live)] == live[:count]
    if len(live) >= count:
        assert len(following) == count
    for occ in live[:5]:
        hit = find_occurrence(series, occ.original.date())
        assert hit is not None and hit.original.date() == occ.original.date()


def test_next_occurrences_orders_by_instant_around_the_gap():
    # 02:45 falls in the gap (03:45 CEST) and so starts after the 03:15 generated later
    series = Series(datetime(2026, 3, 28, 2, 15), BRU, timedelta(minutes=15),
                    "FREQ=DAILY;BYHOUR=2,3;BYMINUTE=15,45")
    following = next_occurrences(series, utc(2026, 3, 29), 2)
    assert [o.original.strftime("%H:%M") for o in following] == ["02:15", "03:15"]
    assert following == occurrences(series, utc(2026, 3, 29), utc(2026, 3, 30))[:2]
