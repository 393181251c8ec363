"""employee position and grade (SIASN import)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("employee") as batch:
        batch.add_column(sa.Column("position", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("grade", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("employee") as batch:
        batch.drop_column("grade")
        batch.drop_column("position")
