"""Pure agenda rules: deadlines, admission, order, timing, carry-over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.agenda import (
    Admission,
    Slot,
    Timing,
    admission,
    carry_source,
    deadline,
    reorder,
    timing,
)

START = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
TWO_DAYS = 2 * 86400


def test_deadline_and_admission():
    assert deadline(START, TWO_DAYS) == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    before = START - timedelta(days=2, seconds=1)
    at = START - timedelta(days=2)
    assert admission(START, TWO_DAYS, before, coordinator=False) is Admission.OPEN
    assert admission(START, TWO_DAYS, at, coordinator=False) is Admission.CLOSED
    assert admission(START, TWO_DAYS, at, coordinator=True) is Admission.LATE
    assert admission(START, TWO_DAYS, START + timedelta(days=9),
                     coordinator=True) is Admission.LATE


def test_reorder_cases():
    assert reorder([1, 2, 3, 4], 4, 1) == [4, 1, 2, 3]
    assert reorder([1, 2, 3, 4], 1, 4) == [2, 3, 4, 1]
    assert reorder([1, 2, 3, 4], 2, 2) == [1, 2, 3, 4]
    for bad in (0, 5):
        with pytest.raises(ValueError):
            reorder([1, 2, 3, 4], 2, bad)
    with pytest.raises(ValueError):
        reorder([1, 2], 9, 1)


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=30, unique=True), st.data())
def test_reorder_is_a_permutation_with_the_item_in_place(order, data):
    item = data.draw(st.sampled_from(order))
    position = data.draw(st.integers(1, len(order)))
    moved = reorder(order, item, position)
    assert sorted(moved) == sorted(order) and moved[position - 1] == item
    assert [i for i in moved if i != item] == [i for i in order if i != item]


def test_timing():
    t = timing([15, None, 30, 20], 3600)
    assert (t.total, t.unknown, t.overrun) == (65, 1, 5)
    assert timing([], 3600) == Timing(0, 0, 0)
    assert timing([None], 60) == Timing(0, 1, 0)
    assert timing([30, 30], 3600).overrun == 0


def test_carry_source_is_the_latest_past_or_cancelled_with_untreated_items():
    now = START
    slots = [Slot((1, datetime(2026, 11, 5, 14)), now - timedelta(days=28), False, 2),
             Slot((1, datetime(2026, 11, 19, 14)), now - timedelta(days=14), False, 1),
             Slot((1, datetime(2026, 11, 26, 14)), now - timedelta(days=7), False, 0),
             Slot((1, datetime(2026, 12, 3, 14)), now + timedelta(hours=1), False, 3)]
    assert carry_source(slots, now).key == (1, datetime(2026, 11, 19, 14))
    cancelled = Slot((2, datetime(2026, 12, 10, 9)), now + timedelta(days=7), True, 1)
    assert carry_source([*slots, cancelled], now) is cancelled
    assert carry_source(slots[2:], now) is None
