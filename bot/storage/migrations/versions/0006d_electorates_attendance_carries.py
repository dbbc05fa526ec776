"""decisions at meetings: each proposal's fixed electorate and its meeting, attendance marks,
agenda items carried from one occurrence to another; open proposals get the room's current
services as their electorate

Revision ID: 0006d
Revises: 0005e
"""

from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
import bot.storage.models


revision = '0006d'
down_revision = '0005e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meeting_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('occurrence', sa.DateTime(timezone=False), nullable=True))
        batch_op.add_column(sa.Column('electorate_at', bot.storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_proposals_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_foreign_key('fk_proposals_meeting_id_meetings', 'meetings', ['meeting_id'], ['id'], ondelete='SET NULL')

    op.create_table('proposal_electors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=120), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('voting', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('proposal_id', 'user_id')
    )
    with op.batch_alter_table('proposal_electors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_electors_proposal_id'), ['proposal_id'], unique=False)

    op.create_table('meeting_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('original', sa.DateTime(timezone=False), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('marked_by', sa.String(length=255), nullable=False),
    sa.Column('marked_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'original', 'user_id')
    )

    op.create_table('agenda_carries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('original', sa.DateTime(timezone=False), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('to_meeting_id', sa.Integer(), nullable=False),
    sa.Column('to_original', sa.DateTime(timezone=False), nullable=False),
    sa.Column('carried_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['agenda_items.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('agenda_carries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agenda_carries_meeting_id'), ['meeting_id'], unique=False)

    _fix_open_electorates()


def _fix_open_electorates() -> None:
    """An open proposal is decided by the services its room has now, from now on."""
    conn = op.get_bind()
    proposals = sa.table('proposals', sa.column('id', sa.Integer), sa.column('room_id', sa.Integer),
                         sa.column('state', sa.String),
                         sa.column('electorate_at', bot.storage.models.UTCDateTime(timezone=True)))
    services = sa.table('room_services', sa.column('room_id', sa.Integer),
                        sa.column('user_id', sa.String), sa.column('service', sa.String))
    electors = sa.table('proposal_electors', sa.column('proposal_id', sa.Integer),
                        sa.column('service', sa.String), sa.column('user_id', sa.String),
                        sa.column('voting', sa.Boolean))
    now = datetime.now(UTC)
    rows = conn.execute(sa.select(proposals.c.id, proposals.c.room_id)
                        .where(proposals.c.state == 'open')).all()
    for proposal_id, room_id in rows:
        reps = conn.execute(sa.select(services.c.service, services.c.user_id)
                            .where(services.c.room_id == room_id)).all()
        if reps:
            conn.execute(electors.insert(), [{'proposal_id': proposal_id, 'service': service,
                                              'user_id': user, 'voting': True}
                                             for service, user in reps])
        conn.execute(proposals.update().where(proposals.c.id == proposal_id)
                     .values(electorate_at=now))


def downgrade() -> None:
    with op.batch_alter_table('agenda_carries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agenda_carries_meeting_id'))
    op.drop_table('agenda_carries')
    op.drop_table('meeting_attendance')
    with op.batch_alter_table('proposal_electors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_electors_proposal_id'))
    op.drop_table('proposal_electors')
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_constraint('fk_proposals_meeting_id_meetings', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_proposals_meeting_id'))
        batch_op.drop_column('electorate_at')
        batch_op.drop_column('occurrence')
        batch_op.drop_column('meeting_id')
