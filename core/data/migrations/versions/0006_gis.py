"""GIS import: gis_import (one row per imported layer), gis_feature (its features), gis_raster (the DEM)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'gis_import',
        sa.Column('layer', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('source_crs', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column('gcj02', sa.Boolean(), nullable=False),
        sa.Column('feature_count', sa.Integer(), nullable=False),
        sa.Column('bounds', sa.JSON(), nullable=True),
        sa.Column('warnings', sa.JSON(), nullable=False),
        sa.Column('summary', sa.JSON(), nullable=False),
        sa.Column('imported_at', sa.Float(), nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint('layer'),
    )
    op.create_table(
        'gis_feature',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
        sa.Column('layer', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('idx', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('speed_kmh', sa.Float(), nullable=True),
        sa.Column('oneway', sa.Integer(), nullable=False),
        sa.Column('geometry', sa.LargeBinary(), nullable=False),
        sa.Column('properties', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'gis_raster',
        sa.Column('layer', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('layer'),
    )


def downgrade() -> None:
    op.drop_table('gis_raster')
    op.drop_table('gis_feature')
    op.drop_table('gis_import')
