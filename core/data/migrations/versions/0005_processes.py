"""event log, worker lease, source heartbeats (web processes apart from the worker)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'event_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('event_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_log_ts'), ['ts'], unique=False)
    op.create_table(
        'worker_lease',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('acquired_at', sa.Float(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'source_heartbeat',
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=192), nullable=False),
        sa.Column('plugin', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('last_beat', sa.Float(), nullable=True),
        sa.Column('last_data', sa.Float(), nullable=True),
        sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('restarts', sa.Integer(), nullable=False),
        sa.Column('running', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    with op.batch_alter_table('source_heartbeat', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_heartbeat_plugin'), ['plugin'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('source_heartbeat', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_heartbeat_plugin'))
    op.drop_table('source_heartbeat')
    op.drop_table('worker_lease')
    with op.batch_alter_table('event_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_log_ts'))
    op.drop_table('event_log')
