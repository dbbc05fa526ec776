"""proposals, votes, audit log

Revision ID: 0002p
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa
import bot.storage.models


revision = '0002p'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('room', sa.String(length=255), nullable=False),
    sa.Column('proposal', sa.String(length=16), nullable=True),
    sa.Column('at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('service', sa.String(length=120), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_room'), ['room'], unique=False)

    op.create_table('proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('case_ref', sa.String(length=64), nullable=True),
    sa.Column('rule', sa.String(length=20), nullable=False),
    sa.Column('proposer', sa.String(length=255), nullable=False),
    sa.Column('created_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('closed_at', bot.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', bot.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminder_sent_at', bot.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome_posted', sa.Boolean(), nullable=False),
    sa.Column('poll_ended', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('room_id', 'number')
    )
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposals_deadline'), ['deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_proposals_room_id'), ['room_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_proposals_state'), ['state'], unique=False)

    op.create_table('proposal_votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=120), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('choice', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('proposal_id', 'seq')
    )
    with op.batch_alter_table('proposal_votes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_votes_proposal_id'), ['proposal_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('proposal_votes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_votes_proposal_id'))
    op.drop_table('proposal_votes')
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposals_state'))
        batch_op.drop_index(batch_op.f('ix_proposals_room_id'))
        batch_op.drop_index(batch_op.f('ix_proposals_deadline'))
    op.drop_table('proposals')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_room'))
    op.drop_table('audit_log')
