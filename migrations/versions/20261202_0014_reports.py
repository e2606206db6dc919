"""reports: information reported as wrong or outdated (Flag, public form), open until handled

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ap_id', sa.String(length=2048), nullable=True),
        sa.Column('source', sa.String(length=8), nullable=False),
        sa.Column('reporter_ap_id', sa.String(length=2048), nullable=True),
        sa.Column('actor_id', sa.Integer(), nullable=False),
        sa.Column('object_ap_ids', sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('resolution', sa.Text(), nullable=True),
        sa.Column('handled_by', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("reason IN ('wrong', 'outdated', 'other')",
                           name=op.f('ck_reports_reason')),
        sa.CheckConstraint("state IN ('open', 'handled')", name=op.f('ck_reports_state')),
        sa.CheckConstraint("source IN ('flag', 'form')", name=op.f('ck_reports_source')),
        sa.ForeignKeyConstraint(['actor_id'], ['actors.id'],
                                name=op.f('fk_reports_actor_id_actors'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
        sa.UniqueConstraint('ap_id', 'actor_id', name='uq_reports_ap_id_actor_id'),
    )
    op.create_index('ix_reports_actor_id_state', 'reports', ['actor_id', 'state'], unique=False)
    op.create_index('ix_reports_state_id', 'reports', ['state', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_reports_state_id', table_name='reports')
    op.drop_index('ix_reports_actor_id_state', table_name='reports')
    op.drop_table('reports')
