"""the key of an adopted phone on the PBX

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mivb_phones', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pbx_key', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mivb_phones', schema=None) as batch_op:
        batch_op.drop_column('pbx_key')
