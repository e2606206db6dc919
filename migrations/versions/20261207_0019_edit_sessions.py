"""edit sessions: the editing pages' sessions are rows (signing out deletes one)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'edit_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sid_hash', sa.String(length=64), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ['tokens.id'],
                                name=op.f('fk_edit_sessions_token_id_tokens'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_edit_sessions')),
        sa.UniqueConstraint('sid_hash', name=op.f('uq_edit_sessions_sid_hash')),
    )
    op.create_index(op.f('ix_edit_sessions_token_id'), 'edit_sessions', ['token_id'],
                    unique=False)
    op.create_index(op.f('ix_edit_sessions_expires_at'), 'edit_sessions', ['expires_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_edit_sessions_expires_at'), table_name='edit_sessions')
    op.drop_index(op.f('ix_edit_sessions_token_id'), table_name='edit_sessions')
    op.drop_table('edit_sessions')
