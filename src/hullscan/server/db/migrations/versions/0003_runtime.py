"""runtime: Kubernetes clusters, their applications, the containers running images; pull credentials per task item

Revision ID: 0003_runtime
Revises: 0002
Create Date: 2026-12-07 23:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_runtime'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        'clusters',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.String(200), nullable=False, unique=True),
        sa.Column('server', sa.String(500), nullable=False),
        sa.Column('context', sa.String(200), nullable=False, server_default=''),
        sa.Column('environment', sa.String(50), nullable=False, server_default=''),
        sa.Column('auth_type', sa.String(30), nullable=False, server_default='token'),
        sa.Column('ca_pem', sa.Text(), nullable=False, server_default=''),
        sa.Column('insecure_skip_tls_verify', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('credentials_enc', sa.Text(), nullable=False, server_default=''),
        sa.Column('registry_ca_pem', sa.Text(), nullable=False, server_default=''),
        sa.Column('version', sa.String(50), nullable=False, server_default=''),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_verified_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        'cluster_workloads',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('cluster_id', sa.Integer(), sa.ForeignKey('clusters.id', ondelete='CASCADE'), nullable=False),
        sa.Column('namespace', sa.String(253), nullable=False),
        sa.Column('kind', sa.String(30), nullable=False),
        sa.Column('name', sa.String(253), nullable=False),
        sa.Column('containers', sa.JSON(), nullable=False),
        sa.Column('in_scope', sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('cluster_id', 'namespace', 'kind', 'name'),
    )
    op.create_index('ix_cluster_workloads_cluster_id', 'cluster_workloads', ['cluster_id'])
    op.create_table(
        'running_containers',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('cluster_id', sa.Integer(), sa.ForeignKey('clusters.id', ondelete='CASCADE'), nullable=False),
        sa.Column('namespace', sa.String(253), nullable=False),
        sa.Column('workload_kind', sa.String(30), nullable=False),
        sa.Column('workload_name', sa.String(253), nullable=False),
        sa.Column('pod', sa.String(253), nullable=False),
        sa.Column('container', sa.String(253), nullable=False),
        sa.Column('image', sa.Text(), nullable=False),
        sa.Column('image_digest', sa.String(100), nullable=False, server_default=''),
        sa.Column('image_id', sa.Integer(), sa.ForeignKey('images.id', ondelete='SET NULL'), nullable=True),
        sa.Column('registry_id', sa.Integer(), nullable=True),
        sa.Column('access', sa.String(30), nullable=False, server_default=''),
        sa.Column('drift', sa.String(40), nullable=False, server_default=''),
        sa.Column('drift_detail', sa.Text(), nullable=False, server_default=''),
        sa.Column('problem', sa.Text(), nullable=False, server_default=''),
        sa.Column('task_id', sa.Integer(), nullable=True),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_running_containers_cluster_id', 'running_containers', ['cluster_id'])
    op.create_index('ix_running_containers_image_digest', 'running_containers', ['image_digest'])
    op.create_index('ix_running_containers_image_id', 'running_containers', ['image_id'])
    with op.batch_alter_table('task_items') as batch:
        batch.add_column(sa.Column('credentials_enc', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('task_items') as batch:
        batch.drop_column('credentials_enc')
    op.drop_table('running_containers')
    op.drop_table('cluster_workloads')
    op.drop_table('clusters')
