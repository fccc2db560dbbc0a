"""indexes for the sync claim among open jobs only

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_OPEN = sa.text("state IN ('queued', 'running')")


def upgrade() -> None:
    op.create_index('ix_sync_jobs_open', 'sync_jobs', ['id'], unique=False,
                    postgresql_where=_OPEN, sqlite_where=_OPEN)
    op.create_index('ix_sync_jobs_open_user', 'sync_jobs', ['account_id', 'user_id', 'id'], unique=False,
                    postgresql_where=_OPEN, sqlite_where=_OPEN)


def downgrade() -> None:
    op.drop_index('ix_sync_jobs_open_user', table_name='sync_jobs')
    op.drop_index('ix_sync_jobs_open', table_name='sync_jobs')
