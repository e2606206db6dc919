"""the search is an in-memory projection of organisations and offers
(domain/search_projection.py): the search tables, their full-text index and their
per-cell count triggers go

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""
import importlib.util
from pathlib import Path

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

# the revisions that made the search tables, replayed in order by the downgrade
_MADE_BY = ('20261202_0011_search.py', '20261202_0015_search_place.py',
            '20261203_0016_search_cells.py', '20261203_0018_search_word_signatures.py',
            '20261207_0021_search_trusted_networks.py')


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # the triggers go with their tables; the full-text table is a virtual one
        op.execute("DROP TABLE IF EXISTS search_fts")
    for table in ('search_cells', 'search_terms', 'search_entries', 'search_state'):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS search_cells_entries()")
        op.execute("DROP FUNCTION IF EXISTS search_cells_terms()")


def _upgrade_of(filename: str):
    spec = importlib.util.spec_from_file_location(
        f"ssefed_migration_{filename[:-3]}", Path(__file__).with_name(filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.upgrade


def downgrade() -> None:
    # the tables as those revisions made them, empty: the former search fills them again
    # from organisations and offers at its first sync
    for filename in _MADE_BY:
        _upgrade_of(filename)()
        if filename.startswith('20261202_0011'):  # what 0013 added to them
            op.add_column('search_entries',
                          sa.Column('validated_until', sa.Date(), nullable=True))
