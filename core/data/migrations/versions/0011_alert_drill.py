"""drill alerts (alert.is_drill): a drill's alerts are kept apart from every live list and count

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_drill', sa.Boolean(), nullable=False, server_default=sa.false()))
    # alerts a drill raised before this column existed carry {"drill": true} in their details
    alert = sa.table('alert', sa.column('id', sa.Integer()), sa.column('details', sa.JSON()),
                     sa.column('is_drill', sa.Boolean()))
    conn = op.get_bind()
    ids = [row.id for row in conn.execute(sa.select(alert.c.id, alert.c.details))
           if isinstance(row.details, dict) and row.details.get("drill")]
    if ids:
        conn.execute(alert.update().where(alert.c.id.in_(ids)).values(is_drill=True))


def downgrade() -> None:
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_column('is_drill')
