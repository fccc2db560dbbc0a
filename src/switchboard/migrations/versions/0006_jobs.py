"""jobs: bulk imports and adoptions run by the workers, with a result per row

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

from switchboard.core.db import UTCDateTime


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'jobs',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('account_id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('mode', sa.String(length=10), nullable=False),
        sa.Column('on_error', sa.String(length=20), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('created_by', sa.String(length=32), nullable=True),
        sa.Column('created_by_email', sa.String(length=320), nullable=True),
        sa.Column('input_text', sa.Text(), nullable=False),
        sa.Column('options', sa.JSON(), nullable=False),
        sa.Column('progress_done', sa.Integer(), nullable=False),
        sa.Column('progress_total', sa.Integer(), nullable=False),
        sa.Column('summary', sa.JSON(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_by', sa.String(length=100), nullable=True),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_jobs_account_id_accounts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    )
    op.create_index('ix_jobs_account_created', 'jobs', ['account_id', 'created_at'], unique=False)
    op.create_index('ix_jobs_claim', 'jobs', ['state', 'lease_until'], unique=False)
    op.create_table(
        'job_rows',
        sa.Column('job_id', sa.String(length=32), nullable=False),
        sa.Column('row', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=320), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=True),
        sa.Column('errors', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_rows_job_id_jobs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('job_id', 'row', name=op.f('pk_job_rows')),
    )


def downgrade() -> None:
    op.drop_table('job_rows')
    op.drop_index('ix_jobs_claim', table_name='jobs')
    op.drop_index('ix_jobs_account_created', table_name='jobs')
    op.drop_table('jobs')
