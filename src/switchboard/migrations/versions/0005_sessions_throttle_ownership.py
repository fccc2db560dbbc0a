"""revocable console sessions, atomic sign-in throttle, password history, each person's
language, PBX ownership keys, shared gateways

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

from switchboard.core.db import UTCDateTime


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'signin_throttle',
        sa.Column('key', sa.String(length=400), nullable=False),
        sa.Column('window_start', UTCDateTime(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('locked_until', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_signin_throttle')),
    )
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('last_seen_at', UTCDateTime(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    )
    op.create_index('ix_user_sessions_user', 'user_sessions', ['user_id'], unique=False)
    op.drop_index('ix_login_failures_email_at', table_name='login_failures')
    op.drop_table('login_failures')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_history', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('language', sa.String(length=5), nullable=True))
    with op.batch_alter_table('mivb_services', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pbx_key', sa.String(length=128), nullable=True))
    op.execute("UPDATE mivb_services SET pbx_key = user_id WHERE service_category_id IS NOT NULL")
    with op.batch_alter_table('sync_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pbx_key', sa.String(length=128), nullable=True))
    op.execute("UPDATE sync_jobs SET pbx_key = user_id")
    with op.batch_alter_table('mivb_connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('url_key', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('shared', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_mivb_connections_url_key'), ['url_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mivb_connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mivb_connections_url_key'))
        batch_op.drop_column('shared')
        batch_op.drop_column('url_key')
    with op.batch_alter_table('sync_jobs', schema=None) as batch_op:
        batch_op.drop_column('pbx_key')
    with op.batch_alter_table('mivb_services', schema=None) as batch_op:
        batch_op.drop_column('pbx_key')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')
        batch_op.drop_column('password_history')
    op.create_table(
        'login_failures',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('email_key', sa.String(length=320), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures')),
    )
    op.create_index('ix_login_failures_email_at', 'login_failures', ['email_key', 'at'], unique=False)
    op.drop_index('ix_user_sessions_user', table_name='user_sessions')
    op.drop_table('user_sessions')
    op.drop_table('signin_throttle')
