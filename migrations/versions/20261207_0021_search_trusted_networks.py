"""search: the search state records the networks trusted when the entries' "validated"
was computed (domain/validity.py: from the members collections of trusted networks and
this network's decisions, never from an organisation's own actor document), so that the
members of a network trusted (or no longer trusted) since are written again.

Rows already there get NULL (not recorded): the next sync writes every entry again, with
the validity of the one source.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.add_column('search_state', sa.Column('trusted_networks', _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('search_state', schema=None) as batch_op:
        batch_op.drop_column('trusted_networks')
