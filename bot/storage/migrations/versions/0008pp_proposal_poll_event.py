"""proposals: the event id of a proposal's poll start is kept with the proposal

It was read from the outbox, which forgets sent messages after a week: a poll open longer
lost its answers and was never ended. Polls already started get theirs from the outbox.

Revision ID: 0008pp
Revises: 0007od
"""

from alembic import op
import sqlalchemy as sa


revision = '0008pp'
down_revision = '0007od'
branch_labels = None
depends_on = None

outbox = sa.table('outbox', sa.column('ref', sa.String), sa.column('event_id', sa.String))
proposals = sa.table('proposals', sa.column('id', sa.Integer),
                     sa.column('poll_event_id', sa.String))


def upgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('poll_event_id', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_proposals_poll_event_id'), ['poll_event_id'],
                              unique=False)
    bind = op.get_bind()
    started = bind.execute(sa.select(outbox.c.ref, outbox.c.event_id).where(
        outbox.c.ref.like('poll:%'), outbox.c.event_id.is_not(None))).all()
    for ref, event_id in started:
        number = ref.removeprefix('poll:')
        if number.isdigit():
            bind.execute(sa.update(proposals).where(proposals.c.id == int(number))
                         .values(poll_event_id=event_id))


def downgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposals_poll_event_id'))
        batch_op.drop_column('poll_event_id')
