"""five-level interconnection: the federation outbox (messages for peer instances, retried until delivered),
inbox (messages received, unique by message id) and the feeder's cursors

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'federation_outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('msg_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('peer', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('envelope', sa.JSON(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_at', sa.Float(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('sent_at', sa.Float(), nullable=True),
        sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('msg_id', 'peer', name='uq_federation_outbox_msg_peer'),
    )
    with op.batch_alter_table('federation_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_federation_outbox_due', ['peer', 'state', 'next_at'], unique=False)
    op.create_table(
        'federation_inbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('msg_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('peer', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('origin_level', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('origin_name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('created', sa.Float(), nullable=False),
        sa.Column('received_at', sa.Float(), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('via', sa.JSON(), nullable=False),
        sa.Column('republished_at', sa.Float(), nullable=True),
        sa.Column('republished_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('federation_inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federation_inbox_msg_id'), ['msg_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_federation_inbox_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_federation_inbox_type'), ['type'], unique=False)
    op.create_table(
        'federation_cursor',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('value', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('federation_cursor')
    with op.batch_alter_table('federation_inbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_federation_inbox_type'))
        batch_op.drop_index(batch_op.f('ix_federation_inbox_received_at'))
        batch_op.drop_index(batch_op.f('ix_federation_inbox_msg_id'))
    op.drop_table('federation_inbox')
    with op.batch_alter_table('federation_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_federation_outbox_due')
    op.drop_table('federation_outbox')
