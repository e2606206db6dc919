"""directory search: entries, their filter terms, full-text indexes (FTS5 / tsvector)
(the updated_at watermarks it syncs by come from 0007)

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        'search_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ap_id', sa.String(length=2048), nullable=False),
        sa.Column('entry_type', sa.String(length=16), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=False),
        sa.Column('offer_id', sa.Integer(), nullable=True),
        sa.Column('local', sa.Boolean(), nullable=False),
        sa.Column('node', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=500), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('words', sa.Text(), nullable=False),
        sa.Column('lat', sa.Float(), nullable=True),
        sa.Column('lon', sa.Float(), nullable=True),
        sa.Column('cell', sa.Integer(), nullable=True),
        sa.Column('legal_form', sa.String(length=64), nullable=True),
        sa.Column('division', sa.String(length=2), nullable=True),
        sa.Column('direction', sa.String(length=8), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=True),
        sa.Column('market', sa.Boolean(), nullable=True),
        sa.Column('category', sa.String(length=2048), nullable=True),
        sa.Column('validated', sa.Boolean(), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=True),
        sa.CheckConstraint("entry_type IN ('organisation', 'offer')",
                           name=op.f('ck_search_entries_entry_type')),
        sa.ForeignKeyConstraint(['actor_id'], ['actors.id'],
                                name=op.f('fk_search_entries_actor_id_actors'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['offer_id'], ['offers.id'],
                                name=op.f('fk_search_entries_offer_id_offers'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_search_entries')),
        sa.UniqueConstraint('ap_id', name=op.f('uq_search_entries_ap_id')),
        sa.UniqueConstraint('offer_id', name=op.f('uq_search_entries_offer_id')),
    )
    op.create_index('ix_search_entries_actor_id', 'search_entries', ['actor_id'], unique=False)
    op.create_index('ix_search_entries_lat_lon', 'search_entries', ['lat', 'lon'], unique=False)
    op.create_index('ix_search_entries_cell', 'search_entries', ['cell', 'entry_type'],
                    unique=False)
    op.create_table(
        'search_terms',
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('term', sa.String(length=2100), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['search_entries.id'],
                                name=op.f('fk_search_terms_entry_id_search_entries'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('entry_id', 'term', name=op.f('pk_search_terms')),
    )
    op.create_index('ix_search_terms_term_entry', 'search_terms', ['term', 'entry_id'],
                    unique=False)
    op.create_table(
        'search_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('synced_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_search_state')),
    )
    # Full text: the words are already folded (domain/text.py), so both databases only
    # split on spaces and see the same words.
    if sqlite:
        op.execute("CREATE VIRTUAL TABLE search_fts USING fts5(words, content='search_entries', "
                   "content_rowid='id', tokenize='unicode61 remove_diacritics 0')")
        op.execute("CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
                   "INSERT INTO search_fts(rowid, words) VALUES (new.id, new.words); END")
        op.execute("CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
                   "INSERT INTO search_fts(search_fts, rowid, words) "
                   "VALUES ('delete', old.id, old.words); END")
        op.execute("CREATE TRIGGER search_entries_au AFTER UPDATE OF words ON search_entries "
                   "BEGIN INSERT INTO search_fts(search_fts, rowid, words) "
                   "VALUES ('delete', old.id, old.words); "
                   "INSERT INTO search_fts(rowid, words) VALUES (new.id, new.words); END")
    else:
        op.execute("CREATE INDEX ix_search_entries_fts ON search_entries "
                   "USING gin (to_tsvector('simple', words))")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for trigger in ("search_entries_ai", "search_entries_ad", "search_entries_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_search_entries_fts")
    op.drop_table('search_state')
    op.drop_index('ix_search_terms_term_entry', table_name='search_terms')
    op.drop_table('search_terms')
    op.drop_index('ix_search_entries_cell', table_name='search_entries')
    op.drop_index('ix_search_entries_lat_lon', table_name='search_entries')
    op.drop_index('ix_search_entries_actor_id', table_name='search_entries')
    op.drop_table('search_entries')
