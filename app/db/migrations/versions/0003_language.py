"""language: the language a response is answered in, and each user's interface language

Revision ID: 0003_language
Revises: 0002_jobs
Create Date: 2026-12-02 01:00:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003_language'
down_revision = '0002_jobs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('language')
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.drop_column('language')
