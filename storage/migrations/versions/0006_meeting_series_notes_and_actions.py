"""meetings: series from the scheme, RSVP notes and history, attendance, notes and actions

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime  # the models' aware-UTC column type


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('series_key', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('date_note', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('notes', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('decisions', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('notes_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('notes_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_meetings_series_key'), ['series_key'])
        batch_op.create_foreign_key(batch_op.f('fk_meetings_notes_by_id_people'),
                                    'people', ['notes_by_id'], ['id'])
    with op.batch_alter_table('meeting_rsvps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meeting_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_follow_ups_meeting_id_meetings'),
                                    'meetings', ['meeting_id'], ['id'])
        batch_op.alter_column('feedback_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('engagement_id', existing_type=sa.Integer(), nullable=True)
    op.create_table(
        'meeting_rsvp_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('meeting_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('answer', sa.String(length=10), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('answered_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'],
                                name=op.f('fk_meeting_rsvp_changes_meeting_id_meetings')),
        sa.ForeignKeyConstraint(['person_id'], ['people.id'],
                                name=op.f('fk_meeting_rsvp_changes_person_id_people')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_rsvp_changes')))
    op.create_index('ix_meeting_rsvp_changes_meeting', 'meeting_rsvp_changes',
                    ['meeting_id', 'answered_at'])
    # The replies given so far become the first entry of their history.
    op.execute(sa.text(
        "INSERT INTO meeting_rsvp_changes (meeting_id, person_id, answer, answered_at) "
        "SELECT meeting_id, person_id, answer, answered_at FROM meeting_rsvps"))
    op.create_table(
        'meeting_attendance',
        sa.Column('meeting_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'],
                                name=op.f('fk_meeting_attendance_meeting_id_meetings')),
        sa.ForeignKeyConstraint(['person_id'], ['people.id'],
                                name=op.f('fk_meeting_attendance_person_id_people')),
        sa.PrimaryKeyConstraint('meeting_id', 'person_id', name=op.f('pk_meeting_attendance')))


def downgrade() -> None:
    op.drop_table('meeting_attendance')
    op.drop_index('ix_meeting_rsvp_changes_meeting', table_name='meeting_rsvp_changes')
    op.drop_table('meeting_rsvp_changes')
    # Actions agreed at meetings have no engagement; they cannot stay in the older shape.
    op.execute(sa.text("DELETE FROM follow_ups WHERE meeting_id IS NOT NULL"))
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.alter_column('engagement_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('feedback_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_follow_ups_meeting_id_meetings'),
                                 type_='foreignkey')
        batch_op.drop_column('meeting_id')
    with op.batch_alter_table('meeting_rsvps', schema=None) as batch_op:
        batch_op.drop_column('note')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_meetings_notes_by_id_people'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_meetings_series_key'), type_='unique')
        for column in ('notes_at', 'notes_by_id', 'decisions', 'notes', 'date_note',
                       'series_key'):
            batch_op.drop_column(column)
