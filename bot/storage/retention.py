"""What the retention settings delete: closed proposals (with their votes) and audit entries
past their periods, and the bot's own working records once they are no longer needed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from bot.storage.models import Outbox, ProcessedEvent
from bot.storage.proposals import AuditEntry, Proposal


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


def purge(s: Session, now: datetime, *, proposals: timedelta, audit: timedelta,
          sent: timedelta, handled: timedelta, dry_run: bool = False) -> Purge:
    """Delete (or with `dry_run` only count) what is older than its period: proposals
    closed `proposals` ago, audit entries, messages sent and events handled."""
    cut = now - proposals
    closed_before = or_(and_(Proposal.closed_at.is_not(None), Proposal.closed_at < cut),
                        and_(Proposal.withdrawn_at.is_not(None), Proposal.withdrawn_at < cut))
    criteria = ((Proposal, and_(Proposal.state != "open", closed_before)),
                (AuditEntry, AuditEntry.at < now - audit),
                (Outbox, and_(Outbox.sent_at.is_not(None), Outbox.sent_at < now - sent)),
                (ProcessedEvent, ProcessedEvent.handled_at < now - handled))
    counts = []
    for model, where in criteria:
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
