"""outbox: who may decrypt a message is decided when it is queued and kept on its row

Messages still waiting get it now: in rooms whose kind requires cross-signed devices
(passed in by bot.storage.db.migrate), only those; the device an answer was for moves from
the message's content to its row.

Revision ID: 0007od
Revises: 0006d
"""

from alembic import context, op
import sqlalchemy as sa


revision = '0007od'
down_revision = '0006d'
branch_labels = None
depends_on = None

MARK = "coordbot.deliver_to_device"  # where the device was kept before, in the content
outbox = sa.table('outbox', sa.column('id', sa.Integer), sa.column('room_id', sa.String),
                  sa.column('content', sa.JSON), sa.column('sent_at', sa.DateTime),
                  sa.column('verified_only', sa.Boolean), sa.column('reader_user', sa.String),
                  sa.column('reader_device', sa.String))
rooms = sa.table('rooms', sa.column('matrix_id', sa.String), sa.column('kind', sa.String))


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_only', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('reader_user', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('reader_device', sa.String(length=255), nullable=True))
    bind = op.get_bind()
    kinds = tuple(context.config.attributes.get("verified_only_kinds", ()))
    strict = set(bind.execute(sa.select(rooms.c.matrix_id).where(rooms.c.kind.in_(kinds)))
                 .scalars()) if kinds else set()
    waiting = bind.execute(sa.select(outbox.c.id, outbox.c.room_id, outbox.c.content)
                           .where(outbox.c.sent_at.is_(None))).all()
    for row_id, room_id, content in waiting:
        mark = content.pop(MARK, None) if isinstance(content, dict) else None
        if mark is None and room_id not in strict:
            continue
        device = mark if room_id in strict and isinstance(mark, list) and len(mark) == 2 \
            else (None, None)
        bind.execute(sa.update(outbox).where(outbox.c.id == row_id).values(
            content=content, verified_only=room_id in strict, reader_user=device[0],
            reader_device=device[1]))


def downgrade() -> None:
    bind = op.get_bind()
    waiting = bind.execute(sa.select(outbox.c.id, outbox.c.content, outbox.c.reader_user,
                                     outbox.c.reader_device)
                           .where(outbox.c.sent_at.is_(None), outbox.c.reader_user.is_not(None))
                           ).all()
    for row_id, content, user, device in waiting:
        bind.execute(sa.update(outbox).where(outbox.c.id == row_id).values(
            content={**content, MARK: [user, device]}))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('reader_device')
        batch_op.drop_column('reader_user')
        batch_op.drop_column('verified_only')
