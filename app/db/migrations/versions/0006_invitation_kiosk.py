"""invitation.kiosk: links for one shared device that start over after each submit

Revision ID: 0006_invitation_kiosk
Revises: 0005_email
Create Date: 2026-12-02 00:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006_invitation_kiosk'
down_revision = '0005_email'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing links are ordinary links: the server default fills the rows already there.
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kiosk', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_column('kiosk')
