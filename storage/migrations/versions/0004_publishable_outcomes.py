"""publishable outcome excerpts and grants by decision date

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 16:40:00
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_outcome', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('public_outcome_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('public_outcome_at',
                                      storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_feedback_public_outcome_by_id_people'),
                                    'people', ['public_outcome_by_id'], ['id'])
    with op.batch_alter_table('grant_recommendations', schema=None) as batch_op:
        batch_op.create_index('ix_grants_decided_at', ['decided_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('grant_recommendations', schema=None) as batch_op:
        batch_op.drop_index('ix_grants_decided_at')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_feedback_public_outcome_by_id_people'),
                                 type_='foreignkey')
        batch_op.drop_column('public_outcome_at')
        batch_op.drop_column('public_outcome_by_id')
        batch_op.drop_column('public_outcome')
