"""console: indexes for the console's counts (system/application too), severity-ordered pages and trend

Revision ID: 0003_console
Revises: 0003_runtime
Create Date: 2026-12-07 23:55:00
"""
from alembic import op

revision = '0003_console'
down_revision = '0003_runtime'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_index('ix_findings_console_totals', 'findings', ['category', 'state', 'suppressed_by', 'ecosystem', 'severity'])
    op.create_index('ix_findings_console_list', 'findings', ['category', 'state', 'severity_rank', 'id'])
    op.create_index('ix_findings_first_seen', 'findings', ['first_seen'])


def downgrade() -> None:
    """Revert."""
    op.drop_index('ix_findings_first_seen', 'findings')
    op.drop_index('ix_findings_console_list', 'findings')
    op.drop_index('ix_findings_console_totals', 'findings')
