"""the collation people's names are sorted by (PostgreSQL; SQLite registers it per connection)

ICU's root collation when the server has ICU (letters, then accents, then case); a server
built without ICU gets a copy of "C" (code-point order, as before) so the queries that name
the collation still run. See switchboard/core/collation.py.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE COLLATION IF NOT EXISTS switchboard_name (provider = icu, locale = 'und')"))
    except sa.exc.DBAPIError:  # built without ICU
        bind.execute(sa.text('CREATE COLLATION IF NOT EXISTS switchboard_name FROM "C"'))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("DROP COLLATION IF EXISTS switchboard_name"))
