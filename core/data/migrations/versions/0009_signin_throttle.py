"""sign-in throttling: locks per user name and per address (signin_lock); the rate counters of the
``limits`` library when no Redis is configured (rate_counter)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'signin_lock',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('locked_at', sa.Float(), nullable=False),
        sa.Column('until', sa.Float(), nullable=False),
        sa.Column('unlocked_at', sa.Float(), nullable=True),
        sa.Column('unlocked_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('signin_lock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signin_lock_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_signin_lock_subject'), ['subject'], unique=False)
        batch_op.create_index(batch_op.f('ix_signin_lock_until'), ['until'], unique=False)
    op.create_table(
        'rate_counter',
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('rate_counter')
    with op.batch_alter_table('signin_lock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signin_lock_until'))
        batch_op.drop_index(batch_op.f('ix_signin_lock_subject'))
        batch_op.drop_index(batch_op.f('ix_signin_lock_kind'))
    op.drop_table('signin_lock')
