"""distributed mode: digest claims with a lease, cluster leases, shared layer analysis results

Revision ID: 0003_distributed
Revises: 0003_console
Create Date: 2026-12-07 23:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_distributed'
down_revision = '0003_console'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table('images') as batch:
        batch.add_column(sa.Column('scan_claim_owner', sa.String(length=120), nullable=False, server_default=''))
        batch.add_column(sa.Column('scan_claim_expires', sa.Float(), nullable=True))
    with op.batch_alter_table('task_items') as batch:
        batch.add_column(sa.Column('dispatched_at', sa.Float(), nullable=True))
    op.create_table(
        'leases',
        sa.Column('name', sa.String(length=200), primary_key=True),
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('expires', sa.Float(), nullable=False),
    )
    op.create_table(
        'layer_results',
        sa.Column('key', sa.String(length=64), primary_key=True),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'packages',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('key', sa.String(length=64), nullable=False, unique=True),
        sa.Column('match_key', sa.String(length=64), nullable=False),
        sa.Column('distro', sa.JSON(), nullable=True),
        sa.Column('data', sa.JSON(), nullable=False),
    )
    op.create_index('ix_packages_match_key', 'packages', ['match_key'])
    op.create_table(
        'package_verdicts',
        sa.Column('match_key', sa.String(length=64), primary_key=True),
        sa.Column('verdict', sa.String(length=64), nullable=False),
        sa.Column('verdict_db', sa.String(length=100), nullable=False),
        sa.Column('findings', sa.JSON(), nullable=False),
    )
    op.create_table(
        'image_packages',
        sa.Column('image_id', sa.Integer(), sa.ForeignKey('images.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('package_id', sa.Integer(), sa.ForeignKey('packages.id', ondelete='CASCADE'), primary_key=True),
    )
    op.create_index('ix_image_packages_package', 'image_packages', ['package_id', 'image_id'])
    # the findings list's order (first page without sorting a million rows), the retention purge, item counts
    op.create_index('ix_findings_order', 'findings', [sa.text('severity_rank DESC'), 'category', 'rule_id', 'id'])
    op.create_index('ix_findings_last_seen', 'findings', ['last_seen'])
    op.create_index('ix_task_items_task_status', 'task_items', ['task_id', 'status'])


def downgrade() -> None:
    """Revert."""
    op.drop_index('ix_task_items_task_status', 'task_items')
    op.drop_index('ix_findings_last_seen', 'findings')
    op.drop_index('ix_findings_order', 'findings')
    op.drop_index('ix_image_packages_package', 'image_packages')
    op.drop_table('image_packages')
    op.drop_table('package_verdicts')
    op.drop_index('ix_packages_match_key', 'packages')
    op.drop_table('packages')
    op.drop_table('layer_results')
    op.drop_table('leases')
    with op.batch_alter_table('task_items') as batch:
        batch.drop_column('dispatched_at')
    with op.batch_alter_table('images') as batch:
        batch.drop_column('scan_claim_expires')
        batch.drop_column('scan_claim_owner')
