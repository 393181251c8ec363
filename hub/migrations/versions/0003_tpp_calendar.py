"""city holiday removals and confirmed Ramadan dates

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 02:39:55.124571
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ramadan_period',
    sa.Column('hijri_year', sa.Integer(), nullable=False),
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('end', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('hijri_year')
    )
    with op.batch_alter_table('holiday', schema=None) as batch_op:
        batch_op.add_column(sa.Column('works', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('holiday', schema=None) as batch_op:
        batch_op.drop_column('works')

    op.drop_table('ramadan_period')
