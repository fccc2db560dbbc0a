"""mivb services, phones, numbering, pbx connection, sync

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
import switchboard.core.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('did_ranges',
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('start', sa.String(length=16), nullable=False),
    sa.Column('end', sa.String(length=16), nullable=False),
    sa.Column('first_dn', sa.String(length=7), nullable=True),
    sa.Column('next_hint', sa.String(length=16), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_did_ranges_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_did_ranges'))
    )
    with op.batch_alter_table('did_ranges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_did_ranges_account_id'), ['account_id'], unique=False)

    op.create_table('dn_ranges',
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('prefix', sa.String(length=4), nullable=False),
    sa.Column('start', sa.String(length=7), nullable=False),
    sa.Column('end', sa.String(length=7), nullable=False),
    sa.Column('next_hint', sa.String(length=7), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_dn_ranges_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dn_ranges'))
    )
    with op.batch_alter_table('dn_ranges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dn_ranges_account_id'), ['account_id'], unique=False)

    op.create_table('mivb_catalogs',
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('fetched_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_mivb_catalogs_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_mivb_catalogs'))
    )
    op.create_table('mivb_connections',
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('password_encrypted', sa.String(length=1000), nullable=False),
    sa.Column('last_test_at', switchboard.core.db.UTCDateTime(), nullable=True),
    sa.Column('last_test_ok', sa.Boolean(), nullable=True),
    sa.Column('last_test_detail', sa.String(length=1000), nullable=True),
    sa.Column('created_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_mivb_connections_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_mivb_connections'))
    )
    op.create_table('mivb_service_categories',
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_key', sa.String(length=100), nullable=False),
    sa.Column('template', sa.String(length=100), nullable=False),
    sa.Column('licences', sa.Integer(), nullable=False),
    sa.Column('allowed_phone_types', sa.JSON(), nullable=True),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('licences >= 0', name=op.f('ck_mivb_service_categories_licences_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_mivb_service_categories_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mivb_service_categories')),
    sa.UniqueConstraint('account_id', 'name_key', name=op.f('uq_mivb_service_categories_account_id_name_key'))
    )
    with op.batch_alter_table('mivb_service_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mivb_service_categories_account_id'), ['account_id'], unique=False)

    op.create_table('mivb_settings',
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('pin_min_length', sa.Integer(), nullable=False),
    sa.Column('pin_forbid_repeated', sa.Boolean(), nullable=False),
    sa.Column('pin_forbid_sequences', sa.Boolean(), nullable=False),
    sa.Column('pin_forbid_dn', sa.Boolean(), nullable=False),
    sa.Column('ehdu_licences', sa.Integer(), nullable=False),
    sa.Column('acd_agent_licences', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_mivb_settings_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_mivb_settings'))
    )
    op.create_table('pbx_reserved_dns',
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('dn', sa.String(length=7), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_pbx_reserved_dns_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'dn', name=op.f('pk_pbx_reserved_dns'))
    )
    op.create_table('sync_jobs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('run_after', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('lease_until', switchboard.core.db.UTCDateTime(), nullable=True),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('created_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('finished_at', switchboard.core.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_sync_jobs_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_jobs'))
    )
    with op.batch_alter_table('sync_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_sync_jobs_claim', ['state', 'run_after'], unique=False)
        batch_op.create_index('ix_sync_jobs_user', ['account_id', 'user_id', 'id'], unique=False)

    op.create_table('mivb_services',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('service_category_id', sa.String(length=32), nullable=True),
    sa.Column('template', sa.String(length=100), nullable=True),
    sa.Column('group', sa.String(length=100), nullable=True),
    sa.Column('user_pin_encrypted', sa.String(length=500), nullable=True),
    sa.Column('location', sa.String(length=100), nullable=True),
    sa.Column('department', sa.String(length=100), nullable=True),
    sa.Column('language', sa.String(length=10), nullable=True),
    sa.Column('desired_revision', sa.Integer(), nullable=False),
    sa.Column('created_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_mivb_services_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_category_id'], ['mivb_service_categories.id'], name=op.f('fk_mivb_services_service_category_id_mivb_service_categories'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mivb_services_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_mivb_services'))
    )
    with op.batch_alter_table('mivb_services', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mivb_services_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mivb_services_service_category_id'), ['service_category_id'], unique=False)

    op.create_table('mivb_phones',
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('mac', sa.String(length=12), nullable=True),
    sa.Column('dn', sa.String(length=7), nullable=False),
    sa.Column('dn_range_id', sa.String(length=32), nullable=True),
    sa.Column('did', sa.String(length=16), nullable=True),
    sa.Column('did_range_id', sa.String(length=32), nullable=True),
    sa.Column('voicemail', sa.Boolean(), nullable=False),
    sa.Column('acd_agent', sa.Boolean(), nullable=False),
    sa.Column('external_number', sa.String(length=16), nullable=True),
    sa.Column('cos_day', sa.Integer(), nullable=True),
    sa.Column('cos_night1', sa.Integer(), nullable=True),
    sa.Column('cos_night2', sa.Integer(), nullable=True),
    sa.Column('cor_day', sa.Integer(), nullable=True),
    sa.Column('cor_night1', sa.Integer(), nullable=True),
    sa.Column('cor_night2', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=10), nullable=True),
    sa.Column('sip_username', sa.String(length=64), nullable=True),
    sa.Column('sip_password_encrypted', sa.String(length=500), nullable=True),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("type IN ('desk_phone', 'generic_sip', 'hot_desk')", name=op.f('ck_mivb_phones_type_known')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_mivb_phones_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['did_range_id'], ['did_ranges.id'], name=op.f('fk_mivb_phones_did_range_id_did_ranges'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['dn_range_id'], ['dn_ranges.id'], name=op.f('fk_mivb_phones_dn_range_id_dn_ranges'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['mivb_services.user_id'], name=op.f('fk_mivb_phones_user_id_mivb_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mivb_phones')),
    sa.UniqueConstraint('account_id', 'dn', name=op.f('uq_mivb_phones_account_id_dn')),
    sa.UniqueConstraint('account_id', 'sip_username', name=op.f('uq_mivb_phones_account_id_sip_username')),
    sa.UniqueConstraint('did', name=op.f('uq_mivb_phones_did')),
    sa.UniqueConstraint('mac', name=op.f('uq_mivb_phones_mac'))
    )
    with op.batch_alter_table('mivb_phones', schema=None) as batch_op:
        batch_op.create_index('ix_mivb_phones_did_range', ['did_range_id', 'did'], unique=False)
        batch_op.create_index('ix_mivb_phones_dn_range', ['dn_range_id', 'dn'], unique=False)
        batch_op.create_index(batch_op.f('ix_mivb_phones_user_id'), ['user_id'], unique=False)

    op.create_table('sync_status',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('phones', sa.JSON(), nullable=False),
    sa.Column('applied_revision', sa.Integer(), nullable=False),
    sa.Column('updated_at', switchboard.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_sync_status_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['mivb_services.user_id'], name=op.f('fk_sync_status_user_id_mivb_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_sync_status'))
    )
    with op.batch_alter_table('sync_status', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_status_account_id'), ['account_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sync_status', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_status_account_id'))

    op.drop_table('sync_status')
    with op.batch_alter_table('mivb_phones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mivb_phones_user_id'))
        batch_op.drop_index('ix_mivb_phones_dn_range')
        batch_op.drop_index('ix_mivb_phones_did_range')

    op.drop_table('mivb_phones')
    with op.batch_alter_table('mivb_services', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mivb_services_service_category_id'))
        batch_op.drop_index(batch_op.f('ix_mivb_services_account_id'))

    op.drop_table('mivb_services')
    with op.batch_alter_table('sync_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_jobs_user')
        batch_op.drop_index('ix_sync_jobs_claim')

    op.drop_table('sync_jobs')
    op.drop_table('pbx_reserved_dns')
    op.drop_table('mivb_settings')
    with op.batch_alter_table('mivb_service_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mivb_service_categories_account_id'))

    op.drop_table('mivb_service_categories')
    op.drop_table('mivb_connections')
    op.drop_table('mivb_catalogs')
    with op.batch_alter_table('dn_ranges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dn_ranges_account_id'))

    op.drop_table('dn_ranges')
    with op.batch_alter_table('did_ranges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_did_ranges_account_id'))

    op.drop_table('did_ranges')
