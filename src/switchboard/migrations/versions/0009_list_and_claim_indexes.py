"""indexes for the users list's order and for the sync claim among open jobs only

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_OPEN = sa.text("state IN ('queued', 'running')")


def upgrade() -> None:
    op.create_index('ix_sync_jobs_open', 'sync_jobs', ['id'], unique=False,
                    postgresql_where=_OPEN, sqlite_where=_OPEN)
    op.create_index('ix_sync_jobs_open_user', 'sync_jobs', ['account_id', 'user_id', 'id'], unique=False,
                    postgresql_where=_OPEN, sqlite_where=_OPEN)
    if op.get_bind().dialect.name == "postgresql":  # SQLite cannot reflect an index on expressions
        op.create_index('ix_users_account_sorted', 'users',
                        ['account_id', sa.text('lower(last_name)'), sa.text('lower(first_name)'), 'id'], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index('ix_users_account_sorted', table_name='users')
    op.drop_index('ix_sync_jobs_open_user', table_name='sync_jobs')
    op.drop_index('ix_sync_jobs_open', table_name='sync_jobs')
