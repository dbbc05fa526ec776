"""Which meeting reminders are due: a pure plan over one series and what was already done.

A reminder is one (occurrence, offset) pair, due ``offset`` before the occurrence starts.

* An offset applies to an occurrence only when its due time is not before the moment the
  occurrence was scheduled (the meeting was added, or the occurrence moved): a meeting added
  30 minutes ahead gets no "1 hour before" reminder.
* A due reminder not yet done is sent while the occurrence has not started; if several are
  due at once (the bot was down), only the closest to the meeting is sent and the others are
  skipped. It is *late* when sent more than ``late_after`` after its due time.
* A reminder still pending when its occurrence has started is skipped.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.core.recurrence import (
    Occurrence,
    Series,
    next_occurrences,
    normalize_rule,
    occurrences,
    to_aware,
    until_instant,
)

LATE_AFTER = timedelta(minutes=1)
LOOKBACK = timedelta(days=1)  # how far back started occurrences are checked for skips
# Reminders due within this span are found by ``next_due``; later ones are found by a later
# wake-up (the clock wakes at least every few seconds or minutes), so expansion stays short.
LOOKAHEAD = timedelta(hours=6)


@dataclass(frozen=True)
class Reminder:
    occurrence: Occurrence
    offset: int  # seconds before the start
    due: datetime  # aware UTC

    @property
    def key(self) -> tuple[datetime, int]:
        return self.occurrence.original, self.offset


@dataclass
class Plan:
    send: list[tuple[Reminder, bool]] = field(default_factory=list)  # (reminder, late)
    skip: list[Reminder] = field(default_factory=list)
    next_due: datetime | None = None  # the earliest reminder due later

    @property
    def busy(self) -> bool:
        return bool(self.send or self.skip)


def reminder_plan(series: Series, offsets: Sequence[int], now: datetime, *,
                  scheduled_at: datetime, changed_at: Mapping[datetime, datetime] | None = None,
                  done: Collection[tuple[datetime, int]] = (),
                  late_after: timedelta = LATE_AFTER, lookback: timedelta = LOOKBACK) -> Plan:
    """What to do now for the reminders of ``series`` at ``now`` (aware).

    ``scheduled_at``: when the series was added; ``changed_at``: original -> when that
    occurrence was last moved; ``done``: (original, offset) pairs already sent or skipped.
    Reminders due more than LOOKAHEAD after ``now`` are not seen: plan again before then.
    """
    plan = Plan()
    if not offsets:
        return plan
    now = now.astimezone(UTC)
    horizon = timedelta(seconds=max(offsets)) + LOOKAHEAD
    changed_at = changed_at or {}
    done = set(done)
    for occ in occurrences(series, now - lookback, now + horizon):
        since = changed_at.get(occ.original, scheduled_at)
        start = occ.start.astimezone(UTC)
        pending = [Reminder(occ, off, start - timedelta(seconds=off))
                   for off in sorted(set(offsets))
                   if (occ.original, off) not in done
                   and start - timedelta(seconds=off) >= since]
        if start <= now:
            plan.skip.extend(pending)
            continue
        due = [r for r in pending if r.due <= now]
        if due:
            closest = due[0]  # offsets ascend: the smallest offset is due last
            plan.send.append((closest, now - closest.due > late_after))
            plan.skip.extend(due[1:])
        later = [r.due for r in pending if r.due > now]
        if later and (plan.next_due is None or min(later) < plan.next_due):
            plan.next_due = min(later)
    return plan


def series_end(series: Series, *, cap: int = 10_000) -> datetime | None:
    """An instant (UTC) at or after which no occurrence of the series is still running, or
    None when the series does not end (or ends too far away to be worth expanding)."""
    moved_ends = [to_aware(new, series.tz).astimezone(UTC) + series.duration
                  for new in series.moved.values()]
    rule = normalize_rule(series.rule)
    if rule is None:
        last = to_aware(series.start, series.tz).astimezone(UTC)
    else:
        parts = dict(p.split("=", 1) for p in rule.split(";"))
        until = until_instant(rule, series.tz)
        if until is not None:
            last = until.astimezone(UTC)
        elif "COUNT" in parts and int(parts["COUNT"]) <= cap:
            starts = [o.start for o in next_occurrences(
                Series(series.start, series.tz, series.duration, rule),
                to_aware(series.start, series.tz), int(parts["COUNT"]))]
            if not starts:
                return max(moved_ends, default=None)
            last = starts[-1].astimezone(UTC)
        else:
            return None
    return max([last + series.duration, *moved_ends])
