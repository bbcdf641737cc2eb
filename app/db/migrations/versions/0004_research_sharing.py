"""research sharing: an organization's switch for the de-identified research download

Revision ID: 0004_research_sharing
Revises: 0003_language
Create Date: 2026-12-02 00:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004_research_sharing'
down_revision = '0003_language'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Off for every existing organization: sharing is something an agency agrees to.
    with op.batch_alter_table('organization') as batch:
        batch.add_column(sa.Column('research_sharing', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('organization') as batch:
        batch.drop_column('research_sharing')
