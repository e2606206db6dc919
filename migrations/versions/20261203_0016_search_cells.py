"""search: per-cell counts (search_cells) kept by triggers, so that the total and the
facets of a radius query are sums over the grid cells inside the circle plus an exact
count of the cells on its edge; each filter term carries its entry's type and facet
columns, so that the term index answers a filter alone and a term's trigger needs no join;
the place index ends with the id (an index-only read on PostgreSQL too)

search_cells holds one row per (term, entry_type, cell, legal_form, kind, division) with
its number of entries; term '' counts the entries themselves, any other term the entries
that carry it. NULL facet values are stored as '' (key columns are NOT NULL). Rows at 0
are deleted. The triggers see every writer (the sync, cascades from actors and offers).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_PLACE_OLD = ['cell', 'entry_type', 'x', 'y', 'z', 'lat', 'lon', 'legal_form', 'kind',
              'division']
_KEY = ('term', 'entry_type', 'cell', 'legal_form', 'kind', 'division')
_FACETS = ('entry_type', 'legal_form', 'kind', 'division')

# -- SQLite: row triggers (an UPSERT per row, in C) ----------------------------------------


def _sqlite_add(row: str, term: str) -> str:
    return (f"INSERT INTO search_cells (term, entry_type, cell, legal_form, kind, division, n) "
            f"SELECT {term}, {row}.entry_type, {row}.cell, coalesce({row}.legal_form, ''), "
            f"coalesce({row}.kind, ''), coalesce({row}.division, ''), 1 "
            f"WHERE {row}.cell IS NOT NULL AND {row}.entry_type IS NOT NULL "
            f"ON CONFLICT (term, entry_type, cell, legal_form, kind, division) "
            f"DO UPDATE SET n = n + 1;")


def _sqlite_remove(row: str, term: str) -> str:
    key = (f"term = {term} AND entry_type = {row}.entry_type AND cell = {row}.cell "
           f"AND legal_form = coalesce({row}.legal_form, '') "
           f"AND kind = coalesce({row}.kind, '') AND division = coalesce({row}.division, '')")
    return (f"UPDATE search_cells SET n = n - 1 WHERE {key}; "
            f"DELETE FROM search_cells WHERE {key} AND n <= 0;")


SQLITE_TRIGGERS = {
    "search_cells_entries_ai": "AFTER INSERT ON search_entries BEGIN "
                               + _sqlite_add("new", "''") + " END",
    "search_cells_entries_ad": "AFTER DELETE ON search_entries BEGIN "
                               + _sqlite_remove("old", "''") + " END",
    # a moved or changed entry: its counts move, and its terms follow it (their own
    # trigger moves theirs)
    "search_cells_entries_au": "AFTER UPDATE OF cell, entry_type, legal_form, kind, division "
                               "ON search_entries BEGIN "
                               + _sqlite_remove("old", "''") + " " + _sqlite_add("new", "''")
                               + " UPDATE search_terms SET cell = new.cell, "
                               "entry_type = new.entry_type, legal_form = new.legal_form, "
                               "kind = new.kind, division = new.division "
                               "WHERE entry_id = new.id; END",
    "search_cells_terms_ai": "AFTER INSERT ON search_terms BEGIN "
                             + _sqlite_add("new", "new.term") + " END",
    "search_cells_terms_ad": "AFTER DELETE ON search_terms BEGIN "
                             + _sqlite_remove("old", "old.term") + " END",
    "search_cells_terms_au": "AFTER UPDATE OF term, cell, entry_type, legal_form, kind, "
                             "division ON search_terms BEGIN "
                             + _sqlite_remove("old", "old.term") + " "
                             + _sqlite_add("new", "new.term") + " END",
}

# -- PostgreSQL: statement triggers over transition tables (one grouped statement per
# insert or delete, however many rows: a sync batch costs one UPSERT, not thousands) -----

_MATCH = " AND ".join(f"c.{k} = d.{k}" for k in _KEY)


def _pg_apply(sign: int, table: str, term: str) -> str:
    """One grouped statement: the rows of a transition table added to (or taken from) the
    counts; counts at 0 deleted."""
    grouped = (f"SELECT {term} AS term, entry_type, cell, coalesce(legal_form, '') AS legal_form, "
               f"coalesce(kind, '') AS kind, coalesce(division, '') AS division, "
               f"count(*)::integer AS n FROM {table} "
               f"WHERE cell IS NOT NULL AND entry_type IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6")
    if sign > 0:
        return (f"INSERT INTO search_cells (term, entry_type, cell, legal_form, kind, division, "
                f"n) {grouped} ORDER BY 1, 2, 3, 4, 5, 6 "
                f"ON CONFLICT (term, entry_type, cell, legal_form, kind, division) "
                f"DO UPDATE SET n = search_cells.n + excluded.n;")
    # two statements: a DELETE in the same statement as the UPDATE would not see the rows
    # the UPDATE changed
    return (f"UPDATE search_cells c SET n = c.n - d.n FROM ({grouped}) d WHERE {_MATCH}; "
            f"DELETE FROM search_cells c USING ({grouped}) d WHERE c.n <= 0 AND {_MATCH};")


def _pg_function(name: str, term: str, extra: str = "") -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    {_pg_apply(-1, 'old_rows', term)}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_pg_apply(1, 'new_rows', term)}
  END IF;{extra}
  RETURN NULL;
END $$
"""


PG_ENTRIES = _pg_function("search_cells_entries", "''", """
  IF TG_OP = 'UPDATE' THEN  -- the terms follow their entry (their trigger moves theirs)
    UPDATE search_terms t SET cell = n.cell, entry_type = n.entry_type,
           legal_form = n.legal_form, kind = n.kind, division = n.division
      FROM new_rows n
     WHERE t.entry_id = n.id AND (t.cell, t.entry_type, t.legal_form, t.kind, t.division)
           IS DISTINCT FROM (n.cell, n.entry_type, n.legal_form, n.kind, n.division);
  END IF;""")
PG_TERMS = _pg_function("search_cells_terms", "term")


def _pg_triggers(table: str, function: str) -> list[str]:
    return [f"CREATE TRIGGER {function}_{op_} AFTER {event} ON {table} "
            f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            for op_, event, refs in (("ai", "INSERT", "NEW TABLE AS new_rows"),
                                     ("ad", "DELETE", "OLD TABLE AS old_rows"),
                                     ("au", "UPDATE", "OLD TABLE AS old_rows "
                                                      "NEW TABLE AS new_rows"))]


# the counts from scratch (the backfill; tests compare the triggers' counts with it)
RECOUNT = """
INSERT INTO search_cells (term, entry_type, cell, legal_form, kind, division, n)
SELECT '', entry_type, cell, coalesce(legal_form, ''), coalesce(kind, ''),
       coalesce(division, ''), count(*)
  FROM search_entries WHERE cell IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
UNION ALL
SELECT term, entry_type, cell, coalesce(legal_form, ''), coalesce(kind, ''),
       coalesce(division, ''), count(*)
  FROM search_terms WHERE cell IS NOT NULL AND entry_type IS NOT NULL
 GROUP BY 1, 2, 3, 4, 5, 6
"""


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column('search_terms', sa.Column('entry_type', sa.String(length=16), nullable=True))
    op.add_column('search_terms', sa.Column('legal_form', sa.String(length=64), nullable=True))
    op.add_column('search_terms', sa.Column('kind', sa.String(length=16), nullable=True))
    op.add_column('search_terms', sa.Column('division', sa.String(length=2), nullable=True))
    op.execute("UPDATE search_terms SET "
               + ", ".join(f"{c} = (SELECT e.{c} FROM search_entries e "
                           f"WHERE e.id = search_terms.entry_id)" for c in _FACETS))
    op.drop_index('ix_search_terms_term_cell', table_name='search_terms')
    op.create_index('ix_search_terms_term_type_cell', 'search_terms',
                    ['term', 'entry_type', 'cell', 'entry_id'], unique=False)
    op.drop_index('ix_search_entries_place', table_name='search_entries')
    op.create_index('ix_search_entries_place', 'search_entries', _PLACE_OLD + ['id'],
                    unique=False)
    op.create_table(
        'search_cells',
        sa.Column('term', sa.String(length=2100), nullable=False),
        sa.Column('entry_type', sa.String(length=16), nullable=False),
        sa.Column('cell', sa.Integer(), nullable=False),
        sa.Column('legal_form', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('division', sa.String(length=2), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*_KEY, name=op.f('pk_search_cells')),
        sqlite_with_rowid=False,
    )
    op.execute(RECOUNT)
    if sqlite:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    else:
        op.execute(PG_ENTRIES)
        op.execute(PG_TERMS)
        for statement in (_pg_triggers('search_entries', 'search_cells_entries')
                          + _pg_triggers('search_terms', 'search_cells_terms')):
            op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for table, function in (('search_entries', 'search_cells_entries'),
                                ('search_terms', 'search_cells_terms')):
            for op_ in ('ai', 'ad', 'au'):
                op.execute(f"DROP TRIGGER IF EXISTS {function}_{op_} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_table('search_cells')
    op.drop_index('ix_search_entries_place', table_name='search_entries')
    op.create_index('ix_search_entries_place', 'search_entries', _PLACE_OLD, unique=False)
    op.drop_index('ix_search_terms_term_type_cell', table_name='search_terms')
    op.create_index('ix_search_terms_term_cell', 'search_terms', ['term', 'cell', 'entry_id'],
                    unique=False)
    for column in ('division', 'kind', 'legal_form', 'entry_type'):
        op.execute(f"ALTER TABLE search_terms DROP COLUMN {column}")
