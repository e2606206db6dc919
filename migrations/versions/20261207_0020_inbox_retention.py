"""inbox retention: a received activity's body may be NULL (pruned after [retention]
received_days); its row, whose unique ap_id is the inbox's dedupe, stays until
dedupe_days.

On SQLite the table is copied (batch mode), with its CHECK constraint, unique id and
index; on PostgreSQL the column only drops NOT NULL. Downgrade puts an empty object in
the pruned bodies.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.alter_column('ap_json', existing_type=_JSON, nullable=True)


def downgrade() -> None:
    op.execute("UPDATE inbox_items SET ap_json = '{}' WHERE ap_json IS NULL")
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.alter_column('ap_json', existing_type=_JSON, nullable=False)
