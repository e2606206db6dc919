"""organisations: accessible premises (a yes/no the organisation states on /edit, published
as accessiblePremises, a filter and a facet of the search)

Existing organisations get false: not stated.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accessible_premises', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('accessible_premises')
