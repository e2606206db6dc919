"""projection watermarks: organisations.updated_at, indexes on updated_at

The SPARQL projection (ssefed.graph) is kept in step with the database by reading
what changed since its watermark; these columns and indexes make that read cheap.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False,
                                      server_default=sa.func.current_timestamp()))
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.alter_column('updated_at', server_default=None)
        batch_op.create_index('ix_organisations_updated_at', ['updated_at'])
    op.create_index('ix_actors_updated_at', 'actors', ['updated_at'])
    op.create_index('ix_offers_updated_at', 'offers', ['updated_at'])
    op.create_index('ix_remote_objects_updated_at', 'remote_objects', ['updated_at'])


def downgrade() -> None:
    op.drop_index('ix_remote_objects_updated_at', table_name='remote_objects')
    op.drop_index('ix_offers_updated_at', table_name='offers')
    op.drop_index('ix_actors_updated_at', table_name='actors')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_index('ix_organisations_updated_at')
        batch_op.drop_column('updated_at')
