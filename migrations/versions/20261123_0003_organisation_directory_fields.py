"""organisation directory fields

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing organisations: no directory codes yet, contacts public, claimed.
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organisational_structure', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('membership_type', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('activities', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('contact_public', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.add_column(sa.Column('claimed', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))



def downgrade() -> None:
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('claimed')
        batch_op.drop_column('contact_public')
        batch_op.drop_column('activities')
        batch_op.drop_column('membership_type')
        batch_op.drop_column('organisational_structure')

