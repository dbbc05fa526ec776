"""outbox: urgent messages go first, messages of one transaction in order, found by event
id; one line of history for both branches

Revision ID: 0004o
Revises: 0002p, 0003a
"""

from alembic import op
import sqlalchemy as sa


revision = '0004o'
down_revision = ('0002p', '0003a')
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('urgent', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('follows', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                      nullable=True))
        batch_op.drop_column('attempts')
        batch_op.create_index(batch_op.f('ix_outbox_event_id'), ['event_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_event_id'))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.drop_column('follows')
        batch_op.drop_column('urgent')
