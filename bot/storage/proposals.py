"""Consensus proposals, their votes, and the append-only audit trail of decisions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from bot.core.electorate import Electorate
from bot.storage.models import Base, Room, UTCDateTime

KINDS = ("plain", "jib-insert", "jib-remove")
POLL_REF = "poll:"


class Proposal(Base):
    """A decision the services of a room take by consensus (P<number> in its room)."""

    __tablename__ = "proposals"
    __table_args__ = (UniqueConstraint("room_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # plain | jib-insert | jib-remove
    title: Mapped[str] = mapped_column(Text)  # the question, or a JIB proposal's motivation
    case_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rule: Mapped[str] = mapped_column(String(20))  # bot.core.consensus.Rule
    proposer: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)  # bot.core.consensus.State
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome_posted: Mapped[bool] = mapped_column(Boolean, default=False)
    # the native poll is ended once its start event id is known (normally at closing)
    poll_ended: Mapped[bool] = mapped_column(Boolean, default=False)
    # the occurrence of a meeting it was made at (`--meeting`): its minutes list it
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL"), nullable=True, index=True)
    occurrence: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    # when its electorate (`electors`) was fixed; None for a proposal closed before
    # electorates were kept, whose votes are read against the room's services
    electorate_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the event that started the native poll, once sent ("" if the homeserver refused it);
    # an answer in the poll names it
    poll_event_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)

    room: Mapped[Room] = relationship()
    votes: Mapped[list[VoteRecord]] = relationship(
        back_populates="proposal", cascade="all, delete-orphan", order_by="VoteRecord.seq")
    electors: Mapped[list[Elector]] = relationship(
        cascade="all, delete-orphan", order_by="[Elector.service, Elector.user_id]")

    @property
    def short_id(self) -> str:
        return f"P{self.number}"

    @property
    def poll_ref(self) -> str:
        """What its poll's start is about, in the outbox (see poll_sent)."""
        return f"{POLL_REF}{self.id}"


class VoteRecord(Base):
    """One vote as cast; a service's latest vote counts (see bot.core.consensus)."""

    __tablename__ = "proposal_votes"
    __table_args__ = (UniqueConstraint("proposal_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[str] = mapped_column(String(255))
    choice: Mapped[str] = mapped_column(String(10))  # agree | object | abstain
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    seq: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(10))  # command | poll

    proposal: Mapped[Proposal] = relationship(back_populates="votes")


class Elector(Base):
    """A representative of a service, as recorded when the proposal opened (its electorate).
    `voting` is False for a service of the room that was absent from the proposal's meeting."""

    __tablename__ = "proposal_electors"
    __table_args__ = (UniqueConstraint("proposal_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[str] = mapped_column(String(255))
    voting: Mapped[bool] = mapped_column(Boolean)


class AuditEntry(Base):
    """Append-only record of who proposed, voted, withdrew, and what was decided, when.

    Keyed by the Matrix room id and the proposal's short id rather than foreign keys, so it
    outlives the proposals it describes (audit retention is longer than proposals').
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room: Mapped[str] = mapped_column(String(255), index=True)
    proposal: Mapped[str | None] = mapped_column(String(16), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    service: Mapped[str | None] = mapped_column(String(120), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


# ---- queries ----------------------------------------------------------------------------

def by_number(s: Session, room: Room, number: int) -> Proposal | None:
    """A proposal of this room; one of another room is simply not found."""
    return s.scalar(select(Proposal).where(Proposal.room_id == room.id,
                                           Proposal.number == number))


def listing(s: Session, room: Room, *, open_: bool, limit: int = 30) -> list[Proposal]:
    q = select(Proposal).where(Proposal.room_id == room.id)
    if open_:
        q = q.where(Proposal.state == "open").order_by(Proposal.deadline, Proposal.number)
    else:
        q = q.where(Proposal.state != "open").order_by(Proposal.closed_at.desc(),
                                                       Proposal.number.desc())
    return list(s.scalars(q.limit(limit)))


def open_proposals(s: Session) -> list[Proposal]:
    return list(s.scalars(select(Proposal).where(Proposal.state == "open")))


def fix_electorate(p: Proposal, e: Electorate, at: datetime) -> None:
    """Record the proposal's electorate, once, when it opens."""
    for voting, entries in ((True, e.voters), (False, e.absent)):
        for service, users in entries:
            p.electors.extend(Elector(service=service, user_id=u, voting=voting) for u in users)
    p.electorate_at = at


def electorate(p: Proposal) -> Electorate | None:
    """The electorate fixed when the proposal opened; None when none was recorded."""
    if p.electorate_at is None:
        return None
    voters: dict[str, list[str]] = {}
    absent: dict[str, list[str]] = {}
    for row in p.electors:
        (voters if row.voting else absent).setdefault(row.service, []).append(row.user_id)
    return Electorate(tuple((s, tuple(u)) for s, u in voters.items()),
                      tuple((s, tuple(u)) for s, u in absent.items()))
def poll_sent(s: Session, ref: str, event_id: str) -> None:
    """A message was sent: if it started a proposal's poll, keep its event id."""
    if ref.startswith(POLL_REF) and ref[len(POLL_REF):].isdigit():
        s.execute(update(Proposal).where(Proposal.id == int(ref[len(POLL_REF):]))
                  .values(poll_event_id=event_id))


def by_poll(s: Session, room_matrix_id: str, start_event_id: str) -> Proposal | None:
    """The proposal of this room whose poll started with that event."""
    return s.scalar(select(Proposal).join(Room, Room.id == Proposal.room_id).where(
        Proposal.poll_event_id == start_event_id, Room.matrix_id == room_matrix_id))


def unended_polls(s: Session) -> list[Proposal]:
    """Closed proposals whose poll start has been sent since, but is not ended yet."""
    return list(s.scalars(select(Proposal).where(
        Proposal.state != "open", Proposal.poll_ended.is_(False),
        Proposal.poll_event_id.is_not(None))))


def add_proposal(s: Session, p: Proposal) -> Proposal:
    s.add(p)
    s.flush()
    return p


def next_seq(proposal: Proposal) -> int:
    return max((v.seq for v in proposal.votes), default=0) + 1


def add_vote(s: Session, p: Proposal, vote: VoteRecord) -> None:
    p.votes.append(vote)
    s.flush()


def audit(s: Session, room: Room, action: str, at: datetime, *, proposal: Proposal | None = None,
          user: str | None = None, service: str | None = None, **detail) -> None:
    s.add(AuditEntry(room=room.matrix_id, proposal=proposal.short_id if proposal else None,
                     at=at, user_id=user, service=service, action=action, detail=detail))


def audit_entries(s: Session, room_matrix_id: str) -> list[AuditEntry]:
    return list(s.scalars(select(AuditEntry).where(AuditEntry.room == room_matrix_id)
                          .order_by(AuditEntry.at, AuditEntry.id)))
