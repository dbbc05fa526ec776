"""Agenda rules: when an agenda closes, who may still add, order, total time, carry-over."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

CALL_BEFORE_DEADLINE = timedelta(days=1)  # a call for items this long before the deadline


class Admission(Enum):
    OPEN = "open"  # before the deadline: accepted
    LATE = "late"  # after it, from a coordinator: accepted, marked late
    CLOSED = "closed"  # after it, from a member: refused


def deadline(start: datetime, deadline_seconds: int) -> datetime:
    """When the agenda of an occurrence starting at ``start`` (aware) closes, in UTC."""
    return start.astimezone(UTC) - timedelta(seconds=deadline_seconds)


def admission(start: datetime, deadline_seconds: int, now: datetime, *,
              coordinator: bool) -> Admission:
    if now < deadline(start, deadline_seconds):
        return Admission.OPEN
    return Admission.LATE if coordinator else Admission.CLOSED


def reorder(order: Sequence[int], item: int, position: int) -> list[int]:
    """``order`` with ``item`` moved to 1-based ``position``; ValueError when out of range."""
    if item not in order:
        raise ValueError(f"{item} is not in the agenda")
    if not 1 <= position <= len(order):
        raise ValueError(f"position {position} is not within 1..{len(order)}")
    rest = [i for i in order if i != item]
    return rest[:position - 1] + [item] + rest[position - 1:]


@dataclass(frozen=True)
class Timing:
    total: int  # minutes of the items that have an estimate
    unknown: int  # items without an estimate
    overrun: int  # minutes beyond the meeting's duration, 0 when it fits


def timing(minutes: Iterable[int | None], duration_seconds: int) -> Timing:
    values = list(minutes)
    total = sum(m for m in values if m)
    return Timing(total, sum(1 for m in values if not m),
                  max(0, total - duration_seconds // 60))


@dataclass(frozen=True)
class Slot:
    """An occurrence as far as carrying items over is concerned."""

    key: tuple[int, datetime]  # (meeting id, original)
    start: datetime  # aware
    cancelled: bool
    untreated: int  # items not marked done


def carry_source(slots: Iterable[Slot], now: datetime) -> Slot | None:
    """The occurrence whose untreated items `carry all` moves: the latest that has started
    or was cancelled, among those that still have untreated items."""
    past = [s for s in slots if s.untreated and (s.cancelled or s.start <= now)]
    return max(past, key=lambda s: (s.start, s.key), default=None)
