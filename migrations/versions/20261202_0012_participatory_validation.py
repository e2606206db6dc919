"""participatory validation: charters, applications, endorsements, endorsers, decisions, reviewers

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0012'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('charters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('network_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('local', sa.Boolean(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('approach', sa.String(length=16), nullable=False),
    sa.Column('criteria', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("approach IN ('criteria', 'progress')", name=op.f('ck_charters_approach')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_charters')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_charters_ap_id')),
    sa.UniqueConstraint('network_ap_id', 'slug', 'version', name='uq_charters_version')
    )
    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('network_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('application_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('applicant_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('rule', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('basis', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('ap_json', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("outcome IN ('validated', 'refused', 'needs_more')", name=op.f('ck_decisions_outcome')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_decisions_ap_id'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_applicant', ['applicant_ap_id', 'network_ap_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_application_ap_id'), ['application_ap_id'], unique=False)

    op.create_table('endorsements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('application_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('applicant_ap_id', sa.String(length=2048), nullable=True),
    sa.Column('endorser_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('stance', sa.String(length=8), nullable=False),
    sa.Column('college', sa.String(length=16), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('verified', sa.String(length=16), nullable=False),
    sa.Column('ap_json', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("college IS NULL OR college IN ('consumers', 'government', 'industry', 'labour', 'ngo', 'ssro')", name=op.f('ck_endorsements_college')),
    sa.CheckConstraint("stance IN ('endorse', 'object')", name=op.f('ck_endorsements_stance')),
    sa.CheckConstraint("verified IN ('local', 'signature', 'proof', 'origin')", name=op.f('ck_endorsements_verified')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_endorsements')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_endorsements_ap_id'))
    )
    with op.batch_alter_table('endorsements', schema=None) as batch_op:
        batch_op.create_index('ix_endorsements_application', ['application_ap_id'], unique=False)
        batch_op.create_index('ix_endorsements_endorser', ['endorser_ap_id'], unique=False)

    op.create_table('endorsers',
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('declared', sa.String(length=16), nullable=True),
    sa.Column('college', sa.String(length=16), nullable=True),
    sa.Column('confirmed_by', sa.String(length=2048), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("college IS NULL OR college IN ('consumers', 'government', 'industry', 'labour', 'ngo', 'ssro')", name=op.f('ck_endorsers_college')),
    sa.CheckConstraint("declared IS NULL OR declared IN ('consumers', 'government', 'industry', 'labour', 'ngo', 'ssro')", name=op.f('ck_endorsers_declared')),
    sa.PrimaryKeyConstraint('ap_id', name=op.f('pk_endorsers'))
    )
    op.create_table('applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('join_ap_id', sa.String(length=2048), nullable=True),
    sa.Column('network_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('local_network', sa.Boolean(), nullable=False),
    sa.Column('applicant_id', sa.Integer(), nullable=False),
    sa.Column('charter_ap_id', sa.String(length=2048), nullable=True),
    sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('decision_ap_id', sa.String(length=2048), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('pending', 'validated', 'refused', 'needs_more', 'withdrawn')", name=op.f('ck_applications_state')),
    sa.ForeignKeyConstraint(['applicant_id'], ['actors.id'], name=op.f('fk_applications_applicant_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_applications_ap_id')),
    sa.UniqueConstraint('join_ap_id', name=op.f('uq_applications_join_ap_id'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_applicant_id'), ['applicant_id'], unique=False)
        batch_op.create_index('ix_applications_network_state', ['network_ap_id', 'state'], unique=False)

    op.create_table('reviewers',
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('college', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("college IS NULL OR college IN ('consumers', 'government', 'industry', 'labour', 'ngo', 'ssro')", name=op.f('ck_reviewers_college')),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_reviewers_actor_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('actor_id', name=op.f('pk_reviewers'))
    )


def downgrade() -> None:
    op.drop_table('reviewers')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index('ix_applications_network_state')
        batch_op.drop_index(batch_op.f('ix_applications_applicant_id'))

    op.drop_table('applications')
    op.drop_table('endorsers')
    with op.batch_alter_table('endorsements', schema=None) as batch_op:
        batch_op.drop_index('ix_endorsements_endorser')
        batch_op.drop_index('ix_endorsements_application')

    op.drop_table('endorsements')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decisions_application_ap_id'))
        batch_op.drop_index('ix_decisions_applicant')

    op.drop_table('decisions')
    op.drop_table('charters')
