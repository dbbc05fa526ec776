"""Keep personal data no longer than needed: the retention settings, applied daily.

- closed proposals (adopted, rejected, no consensus, withdrawn) and their votes: deleted
  `retention.proposals` after closing;
- the audit trail: entries older than `retention.audit`;
- the bot's own working records, which hold message texts and event ids: messages sent more
  than 7 days ago, and the record of handled events once far outside the catch-up window.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.config import Config
from bot.outgoing import Outgoing
from bot.storage import progress, retention
from bot.storage.db import Session
from bot.storage.retention import Purge

log = logging.getLogger(__name__)
LAST_RUN = "retention_last_run"
DAILY = timedelta(days=1)
WORKING_RECORDS = timedelta(days=7)


def purge(s: Session, config: Config, now: datetime, *, dry_run: bool = False) -> Purge:
    """Apply the retention settings now (with `dry_run`, only count what would go)."""
    return retention.purge(
        s, now, proposals=timedelta(seconds=config.retention.proposals_seconds),
        audit=timedelta(seconds=config.retention.audit_seconds), sent=WORKING_RECORDS,
        handled=max(WORKING_RECORDS, timedelta(seconds=2 * config.bot.catch_up_seconds)),
        dry_run=dry_run)


class DailyPurge:
    """A DueWork: once a day, apply the retention settings."""

    name = "retention"

    def __init__(self, config: Config):
        self.config = config

    def next_due(self, s: Session, now: datetime) -> datetime | None:
        last = progress.get_state(s, LAST_RUN)
        return now if last is None else datetime.fromisoformat(last) + DAILY

    def run_due(self, s: Session, now: datetime, out: list[Outgoing]) -> int:
        due = self.next_due(s, now)
        if due is None or due > now:
            return 0
        result = purge(s, self.config, now)
        progress.set_state(s, LAST_RUN, now.isoformat())
        log.info("retention applied: %s", "; ".join(result.lines()))
        return 0  # nothing to send
