"""ranges count the numbers given back, so allocators can move the hint without a lock

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('dn_ranges', 'did_ranges'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('given_back', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    for table in ('dn_ranges', 'did_ranges'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('given_back')
