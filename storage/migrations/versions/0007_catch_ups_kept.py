"""catch-ups kept: each answer to the weekly catch-up question, and the follow-up made of it

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime  # the models' aware-UTC column type


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'catch_ups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('week', sa.String(length=8), nullable=False),
        sa.Column('answer', sa.Text(), nullable=False),
        sa.Column('raised', sa.Boolean(), nullable=False),
        sa.Column('answered_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('follow_up_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['person_id'], ['people.id'],
                                name=op.f('fk_catch_ups_person_id_people')),
        sa.ForeignKeyConstraint(['follow_up_id'], ['follow_ups.id'],
                                name=op.f('fk_catch_ups_follow_up_id_follow_ups')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_catch_ups')),
        sa.UniqueConstraint('follow_up_id', name=op.f('uq_catch_ups_follow_up_id')))
    op.create_index('ix_catch_ups_week', 'catch_ups', ['week', 'person_id'])


def downgrade() -> None:
    op.drop_index('ix_catch_ups_week', table_name='catch_ups')
    op.drop_table('catch_ups')
