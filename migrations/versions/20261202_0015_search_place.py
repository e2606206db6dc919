"""search: each entry's position as a unit vector (x, y, z) and one covering index on
(cell, entry_type, position, facet columns), so that a radius query reads its candidates,
tests the circle and counts the facets from the index alone; each filter term with its
entry's cell, so that a term in a circle is a short range of (term, cell)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_PLACE = ['cell', 'entry_type', 'x', 'y', 'z', 'lat', 'lon', 'legal_form', 'kind', 'division']


def upgrade() -> None:
    # plain ALTER TABLE (no batch copy on SQLite: the FTS triggers stay on the table)
    for column in ('x', 'y', 'z'):
        op.add_column('search_entries', sa.Column(column, sa.Float(), nullable=True))
    r = "(pi() / 180.0)"
    op.execute(f"UPDATE search_entries SET x = cos(lat * {r}) * cos(lon * {r}), "
               f"y = cos(lat * {r}) * sin(lon * {r}), z = sin(lat * {r}) "
               "WHERE lat IS NOT NULL AND lon IS NOT NULL")
    op.drop_index('ix_search_entries_cell', table_name='search_entries')
    op.create_index('ix_search_entries_place', 'search_entries', _PLACE, unique=False)
    op.add_column('search_terms', sa.Column('cell', sa.Integer(), nullable=True))
    op.execute("UPDATE search_terms SET cell = (SELECT e.cell FROM search_entries e "
               "WHERE e.id = search_terms.entry_id)")
    op.drop_index('ix_search_terms_term_entry', table_name='search_terms')
    op.create_index('ix_search_terms_term_cell', 'search_terms', ['term', 'cell', 'entry_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_search_terms_term_cell', table_name='search_terms')
    op.create_index('ix_search_terms_term_entry', 'search_terms', ['term', 'entry_id'],
                    unique=False)
    op.execute("ALTER TABLE search_terms DROP COLUMN cell")
    op.drop_index('ix_search_entries_place', table_name='search_entries')
    op.create_index('ix_search_entries_cell', 'search_entries', ['cell', 'entry_type'],
                    unique=False)
    for column in ('z', 'y', 'x'):
        op.execute(f"ALTER TABLE search_entries DROP COLUMN {column}")
