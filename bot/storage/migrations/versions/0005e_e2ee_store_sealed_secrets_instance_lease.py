"""everything the bot knows in the database: the end-to-end encryption store, sealed
secrets (saved login, cross-signing keys), and the epoch that fences a replaced instance

Revision ID: 0005e
Revises: 0004o
"""

from alembic import op
import sqlalchemy as sa

import bot.storage.models


revision = '0005e'
down_revision = '0004o'
branch_labels = None
depends_on = None


def _account_id() -> list:
    return [sa.Column('account_id', sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(['account_id'], ['e2ee_accounts.id'], ondelete='CASCADE')]


def upgrade() -> None:
    op.create_table(
        'bot_secrets',
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('value', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('name'))
    op.create_table(
        'instance_lease',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('epoch', sa.BigInteger(), nullable=False),
        sa.Column('holder', sa.String(length=255), nullable=False),
        sa.Column('taken_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.create_table(
        'e2ee_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.String(length=255), nullable=False),
        sa.Column('device_id', sa.String(length=255), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        sa.Column('pickle', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'device_id'))
    op.create_table(
        'e2ee_devices', *_account_id(),
        sa.Column('user_id', sa.String(length=255), nullable=False),
        sa.Column('device_id', sa.String(length=255), nullable=False),
        sa.Column('display_name', sa.Text(), nullable=False),
        sa.Column('deleted', sa.Boolean(), nullable=False),
        sa.Column('keys', sa.JSON(), nullable=False),
        sa.Column('trust', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'user_id', 'device_id'))
    op.create_table(
        'e2ee_key_requests', *_account_id(),
        sa.Column('request_id', sa.String(length=255), nullable=False),
        sa.Column('session_id', sa.String(length=255), nullable=False),
        sa.Column('room_id', sa.String(length=255), nullable=False),
        sa.Column('algorithm', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'request_id'))
    op.create_table(
        'e2ee_megolm_sessions', *_account_id(),
        sa.Column('session_id', sa.String(length=255), nullable=False),
        sa.Column('room_id', sa.String(length=255), nullable=False),
        sa.Column('sender_key', sa.String(length=255), nullable=False),
        sa.Column('signing_key', sa.String(length=255), nullable=False),
        sa.Column('forwarded_chain', sa.JSON(), nullable=False),
        sa.Column('pickle', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'session_id'))
    op.create_table(
        'e2ee_olm_sessions', *_account_id(),
        sa.Column('session_id', sa.String(length=255), nullable=False),
        sa.Column('sender_key', sa.String(length=255), nullable=False),
        sa.Column('created', sa.String(length=40), nullable=False),
        sa.Column('pickle', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'session_id'))
    op.create_table(
        'e2ee_rooms', *_account_id(),
        sa.Column('room_id', sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'room_id'))


def downgrade() -> None:
    for table in ('e2ee_rooms', 'e2ee_olm_sessions', 'e2ee_megolm_sessions',
                  'e2ee_key_requests', 'e2ee_devices', 'e2ee_accounts', 'instance_lease',
                  'bot_secrets'):
        op.drop_table(table)
