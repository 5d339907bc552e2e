"""money and time: receipts made safe, who paid a claim, one hours entry per engagement

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('expense_claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_thumb_path', sa.String(length=500),
                                      nullable=True))
        batch_op.add_column(sa.Column('paid_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_expense_claims_paid_by_id_people'),
                                    'people', ['paid_by_id'], ['id'])
    # Time given with feedback becomes its engagement's one hours entry, unless the
    # ambassador already logged time against that engagement (then it is counted already).
    day = ("date(e.starts_at)" if op.get_bind().dialect.name == "sqlite"
           else "CAST(e.starts_at AS DATE)")
    op.execute(sa.text(
        "INSERT INTO hours_entries (person_id, worked_on, minutes, description, "
        "engagement_id, created_at) "
        f"SELECT f.ambassador_id, {day}, f.minutes_spent, e.title, e.id, "
        "f.submitted_at FROM feedback f JOIN engagements e ON e.id = f.engagement_id "
        "WHERE f.minutes_spent IS NOT NULL AND f.minutes_spent > 0 AND NOT EXISTS "
        "(SELECT 1 FROM hours_entries h WHERE h.engagement_id = e.id)"))
    with op.batch_alter_table('hours_entries', schema=None) as batch_op:
        batch_op.create_index('uq_hours_entries_engagement_id', ['engagement_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('hours_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_hours_entries_engagement_id')
    with op.batch_alter_table('expense_claims', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_expense_claims_paid_by_id_people'),
                                 type_='foreignkey')
        batch_op.drop_column('paid_by_id')
        batch_op.drop_column('receipt_thumb_path')
