"""offers imported from a CSV keep their stable key; jobs claimed by kind

Revision ID: 0008
Revises: 0011
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_key', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_offers_source_key'), ['source_key'])
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_state_kind_run_at', ['state', 'kind', 'run_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_state_kind_run_at')
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_offers_source_key'), type_='unique')
        batch_op.drop_column('source_key')
