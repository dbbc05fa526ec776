"""The pure reminder plan: what is due, late, skipped, and when to wake next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.recurrence import Series
from bot.core.reminders import LOOKAHEAD, reminder_plan, series_end

BRU = "Europe/Brussels"
HOUR, DAY = 3600, 86400
WEEKLY = Series(datetime(2026, 3, 15, 10), BRU, timedelta(hours=1), "weekly")
CREATED = datetime(2026, 3, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def plan(now, offsets=(DAY, HOUR), done=(), series=WEEKLY, **kw):
    return reminder_plan(series, offsets, now, scheduled_at=kw.pop("scheduled_at", CREATED),
                         done=done, **kw)


def test_next_due_across_spring_forward():
    # Sunday 29 March 10:00 CEST is 08:00 UTC; the week before it was 09:00 UTC
    p = plan(utc(2026, 3, 28, 7))
    assert not p.busy and p.next_due == utc(2026, 3, 28, 8)
    p = plan(utc(2026, 3, 22, 8, 0))  # Sunday 22nd 10:00 CET = 09:00 UTC: 1 h before
    assert [(r.occurrence.start.hour, r.offset, late) for r, late in p.send] == \
        [(10, HOUR, False)]
    assert [r.offset for r in p.skip] == [DAY]  # never sent, superseded by the 1 h one


def test_next_due_across_fall_back():
    series = Series(datetime(2026, 10, 14, 10), BRU, timedelta(hours=1), "weekly")
    p = plan(utc(2026, 10, 28, 6), series=series, done={(datetime(2026, 10, 28, 10), DAY)})
    assert p.next_due == utc(2026, 10, 28, 8)  # 10:00 CET = 09:00 UTC, 1 h before


def test_exactly_once_with_done_and_clock_moved_back():
    due = utc(2026, 3, 21, 9)
    first = plan(due)
    [(reminder, late)] = first.send
    assert not late and reminder.due == due
    done = {reminder.key}
    assert not plan(due, done=done).busy
    assert not plan(due - timedelta(minutes=5), done=done).busy


def test_late_and_after_the_start():
    p = plan(utc(2026, 3, 22, 8, 30))  # 30 min after the 1 h reminder was due
    assert [(r.offset, late) for r, late in p.send] == [(HOUR, True)]
    p = plan(utc(2026, 3, 22, 9, 1))  # the meeting started a minute ago
    assert p.send == [] and sorted(r.offset for r in p.skip) == [HOUR, DAY]


def test_cancelled_occurrence_and_reminders_before_scheduling_none():
    series = Series(WEEKLY.start, BRU, WEEKLY.duration, WEEKLY.rule,
                    cancelled={datetime(2026, 3, 22, 10)})
    assert not plan(utc(2026, 3, 22, 8, 30), series=series).busy
    late_addition = plan(utc(2026, 3, 22, 8, 30), scheduled_at=utc(2026, 3, 22, 8, 0))
    assert [(r.offset, late) for r, late in late_addition.send] == [(HOUR, True)]
    after_due = plan(utc(2026, 3, 22, 8, 30), scheduled_at=utc(2026, 3, 22, 8, 10))
    assert not after_due.busy


def test_moved_occurrence_counts_from_its_move():
    series = Series(WEEKLY.start, BRU, WEEKLY.duration, WEEKLY.rule,
                    moved={datetime(2026, 3, 22, 10): datetime(2026, 3, 23, 15)})
    p = plan(utc(2026, 3, 22, 9), series=series,
             changed_at={datetime(2026, 3, 22, 10): utc(2026, 3, 22, 7)})
    assert not p.busy  # the 22nd is moved: nothing due for it
    assert p.next_due == utc(2026, 3, 22, 14)  # 1 d before 23rd 15:00 CET (14:00 UTC)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 60 * 24 * 20), st.lists(st.integers(1, 8 * 24 * 60), min_size=1,
                                              max_size=4))
def test_running_the_plan_repeatedly_sends_each_reminder_at_most_once(minutes, offsets):
    """Walk the clock in steps: every (occurrence, offset) pair is sent or skipped once."""
    offsets = tuple(m * 60 for m in offsets)
    now, done, sent = utc(2026, 3, 20) + timedelta(minutes=minutes), set(), []
    expect_work = False
    for _ in range(40):
        p = plan(now, offsets=offsets, done=done)
        assert p.busy or not expect_work  # waking at next_due finds that reminder due
        for reminder, _late in p.send:
            assert reminder.key not in done and reminder.due <= now < \
                reminder.occurrence.start
            sent.append(reminder.key)
        done |= {r.key for r, _ in p.send} | {r.key for r in p.skip}
        assert len(p.send) <= len({r.occurrence.original for r, _ in p.send})
        if p.next_due is not None:
            assert now < p.next_due <= now + LOOKAHEAD + timedelta(seconds=max(offsets))
        expect_work = not p.busy and p.next_due is not None
        if not p.busy:
            now = p.next_due or now + LOOKAHEAD
    assert len(sent) == len(set(sent))


def test_series_end():
    assert series_end(WEEKLY) is None
    one_off = Series(datetime(2026, 3, 18, 10), BRU, timedelta(hours=2))
    assert series_end(one_off) == utc(2026, 3, 18, 11)
    counted = Series(datetime(2026, 3, 18, 10), BRU, timedelta(hours=1), "FREQ=WEEKLY;COUNT=3",
                     moved={datetime(2026, 3, 25, 10): datetime(2026, 5, 1, 10)})
    assert series_end(counted) == utc(2026, 5, 1, 9)
    until = Series(datetime(2026, 3, 18, 10), BRU, timedelta(hours=1),
                   "FREQ=WEEKLY;UNTIL=20260401")
    assert series_end(until) >= utc(2026, 4, 1, 9)
