"""search: each filter term carries a 64-bit signature of its entry's words (one bit per
distinct 3-letter start of a word, db.repos.search.word_signature), at the end of the term index,
so that a term and words in a circle skip, from the index alone, the term's entries that
cannot hold the words (PostgreSQL reads the words of the others only).

Rows already there get NULL (unknown: never skipped); the search is marked unsynced, so
the next sync (the node's job, or any `ssefed search`) rewrites every entry with its
signature.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_INDEX = ['term', 'entry_type', 'cell', 'entry_id']


def upgrade() -> None:
    op.add_column('search_terms', sa.Column('wsig', sa.BigInteger(), nullable=True))
    op.drop_index('ix_search_terms_term_type_cell', table_name='search_terms')
    op.create_index('ix_search_terms_term_type_cell', 'search_terms', _INDEX + ['wsig'],
                    unique=False)
    op.execute("UPDATE search_state SET synced_until = NULL")  # a full sync next


def downgrade() -> None:
    op.drop_index('ix_search_terms_term_type_cell', table_name='search_terms')
    op.create_index('ix_search_terms_term_type_cell', 'search_terms', _INDEX, unique=False)
    op.execute("ALTER TABLE search_terms DROP COLUMN wsig")
