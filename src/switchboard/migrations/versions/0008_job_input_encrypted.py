"""jobs keep what they work on encrypted: an imported CSV may carry user pins

Existing jobs' input is encrypted with the secret key of the process that runs the
upgrade (`switchboard db upgrade`, `switchboard restore`: the installation's own key).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _recode(column: str, code) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(f"SELECT id, {column} FROM jobs WHERE {column} <> ''")).all()
    if not rows:
        return  # a new database: no key needed
    from switchboard.core.config import get_settings
    from switchboard.core.security import SecretBox

    box = SecretBox(get_settings().key_ring())
    for job_id, value in rows:
        conn.execute(sa.text(f"UPDATE jobs SET {column} = :value WHERE id = :id"),
                     {"value": code(box, value), "id": job_id})


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.alter_column('input_text', new_column_name='input_encrypted')
    _recode('input_encrypted', lambda box, value: box.encrypt(value))


def downgrade() -> None:
    _recode('input_encrypted', lambda box, value: box.decrypt(value))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.alter_column('input_encrypted', new_column_name='input_text')
