"""supply chains: known networks and their members, peers' chain endpoints

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'known_networks',
        sa.Column('ap_id', sa.String(length=2048), nullable=False),
        sa.Column('members_url', sa.String(length=2048), nullable=True),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('ap_id', name=op.f('pk_known_networks')),
    )
    op.create_table(
        'memberships',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('network_ap_id', sa.String(length=2048), nullable=False),
        sa.Column('member_ap_id', sa.String(length=2048), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['network_ap_id'], ['known_networks.ap_id'],
                                name=op.f('fk_memberships_network_ap_id_known_networks'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_memberships')),
        sa.UniqueConstraint('network_ap_id', 'member_ap_id',
                            name='uq_memberships_network_member'),
    )
    op.create_index('ix_memberships_member', 'memberships', ['member_ap_id'], unique=False)
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('peer_api', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('peer_api_checked_at', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.drop_column('peer_api_checked_at')
        batch_op.drop_column('peer_api')
    op.drop_index('ix_memberships_member', table_name='memberships')
    op.drop_table('memberships')
    op.drop_table('known_networks')
