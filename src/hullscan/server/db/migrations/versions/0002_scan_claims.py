"""scan claims: the task scanning an image digest right now

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 08:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table('images') as batch:
        batch.add_column(sa.Column('scan_claim_task', sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('images') as batch:
        batch.drop_column('scan_claim_task')
