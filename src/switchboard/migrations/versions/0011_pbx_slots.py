"""places in each PBX's limit of pushes in flight, shared by the worker processes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa

from switchboard.core.db import UTCDateTime


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sync_pbx_slots',
        sa.Column('pbx', sa.String(length=500), nullable=False),
        sa.Column('slot', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('holder', sa.String(length=100), nullable=True),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('pbx', 'slot', name=op.f('pk_sync_pbx_slots')),
    )
    op.create_table(
        'sync_pbx_waiters',
        sa.Column('pbx', sa.String(length=500), nullable=False),
        sa.Column('holder', sa.String(length=100), nullable=False),
        sa.Column('until', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('pbx', 'holder', name=op.f('pk_sync_pbx_waiters')),
    )


def downgrade() -> None:
    op.drop_table('sync_pbx_waiters')
    op.drop_table('sync_pbx_slots')
