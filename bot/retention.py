"""Keep personal data no longer than needed: the retention settings, applied daily.

- closed proposals (adopted, rejected, no consensus, withdrawn) and their votes: deleted
  `retention.proposals` after closing;
- the audit trail: entries older than `retention.audit`;
- the bot's own working records, which hold message texts and event ids: messages sent more
  than 7 days ago, and the record of handled events once far outside the catch-up window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.outgoing import Outgoing
from bot.storage import progress
from bot.storage.models import Outbox, ProcessedEvent
from bot.storage.proposals import AuditEntry, Proposal

log = logging.getLogger(__name__)
LAST_RUN = "retention_last_run"
DAILY = timedelta(days=1)
WORKING_RECORDS = timedelta(days=7)


@dataclass(frozen=True)
class Purge:
    proposals: int
    audit_entries: int
    sent_messages: int
    handled_events: int

    def lines(self) -> list[str]:
        return [f"closed proposals (with their votes): {self.proposals}",
                f"audit entries: {self.audit_entries}",
                f"sent messages kept for delivery: {self.sent_messages}",
                f"records of handled events: {self.handled_events}"]


def _criteria(config: Config, now: datetime):
    proposals_cut = now - timedelta(seconds=config.retention.proposals_seconds)
    closed_before = or_(
        and_(Proposal.closed_at.is_not(None), Proposal.closed_at < proposals_cut),
        and_(Proposal.withdrawn_at.is_not(None), Proposal.withdrawn_at < proposals_cut))
    audit = AuditEntry.at < now - timedelta(seconds=config.retention.audit_seconds)
    sent = and_(Outbox.sent_at.is_not(None), Outbox.sent_at < now - WORKING_RECORDS)
    events_cut = now - max(WORKING_RECORDS,
                           timedelta(seconds=2 * config.bot.catch_up_seconds))
    events = ProcessedEvent.handled_at < events_cut
    return ((Proposal, and_(Proposal.state != "open", closed_before)), (AuditEntry, audit),
            (Outbox, sent), (ProcessedEvent, events))


def purge(s: Session, config: Config, now: datetime, *, dry_run: bool = False) -> Purge:
    counts = []
    for model, where in _criteria(config, now):
        if dry_run:
            counts.append(s.scalar(select(func.count()).select_from(model).where(where)) or 0)
        elif model is Proposal:
            doomed = list(s.scalars(select(Proposal).where(where)))
            for p in doomed:
                s.delete(p)  # votes go with it (cascade)
            counts.append(len(doomed))
        else:
            counts.append(s.execute(delete(model).where(where)).rowcount or 0)
    return Purge(*counts)


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
