"""one draft per person per form

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 16:45:00

A person's half-finished form is kept when they start another one (it used to be replaced,
and its answers lost): drafts are unique per person, app and form, and `active` marks the form
they are in now. Existing drafts are each their person's only one, so all start active.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('form_drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default='1',
                                      nullable=False))
        batch_op.drop_constraint('uq_form_drafts_person_id', type_='unique')
        batch_op.create_unique_constraint('uq_form_drafts_person_form',
                                          ['person_id', 'transport', 'form'])


def downgrade() -> None:
    # Back to one draft per person: only the active one (or, failing that, the newest) stays.
    op.execute("DELETE FROM form_drafts WHERE id NOT IN (SELECT keep.id FROM (SELECT id, "
               "row_number() OVER (PARTITION BY person_id, transport ORDER BY active DESC, "
               "updated_at DESC, id DESC) AS n FROM form_drafts) AS keep WHERE keep.n = 1)")
    with op.batch_alter_table('form_drafts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_form_drafts_person_form', type_='unique')
        batch_op.create_unique_constraint('uq_form_drafts_person_id', ['person_id', 'transport'])
        batch_op.drop_column('active')
