"""fresh data: reminders sent to organisations; search entries know until when their
organisation's validation holds

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reminders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=False),
        sa.Column('subject_type', sa.String(length=16), nullable=False),
        sa.Column('subject', sa.String(length=2048), nullable=False),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=False),
        sa.Column('note_ap_id', sa.String(length=2048), nullable=False),
        sa.Column('email_to', sa.String(length=320), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("subject_type IN ('validation', 'offer')",
                           name=op.f('ck_reminders_subject_type')),
        sa.ForeignKeyConstraint(['actor_id'], ['actors.id'],
                                name=op.f('fk_reminders_actor_id_actors'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders')),
        sa.UniqueConstraint('subject', 'valid_until', name='uq_reminders_subject_valid_until'),
    )
    op.create_index(op.f('ix_reminders_actor_id'), 'reminders', ['actor_id'], unique=False)
    # a plain ADD COLUMN (no batch copy on SQLite: the full-text triggers of 0011 stay)
    op.add_column('search_entries', sa.Column('validated_until', sa.Date(), nullable=True))
    op.execute("UPDATE search_entries SET validated_until = (SELECT o.valid_until FROM "
               "organisations o WHERE o.actor_id = search_entries.actor_id)")


def downgrade() -> None:
    op.drop_column('search_entries', 'validated_until')
    op.drop_index(op.f('ix_reminders_actor_id'), table_name='reminders')
    op.drop_table('reminders')
