"""The scheme's records (DESIGN §3). Times are UTC; money is integer pence."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Date, DateTime, ForeignKey,
                        Index, Integer, MetaData, String, Text, TypeDecorator, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names so Alembic migrations match on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out, whatever the database keeps (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; times must be aware UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class StrEnum(str, enum.Enum):
    def __str__(self) -> str:
        return self.value


class Role(StrEnum):
    AMBASSADOR = "ambassador"
    OFFICER = "officer"
    COMMISSIONING = "commissioning"
    COMMISSIONER = "commissioner"
    DEPUTY = "deputy"
    ADMIN = "admin"


class EngagementStatus(StrEnum):
    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"


class FollowUpNeeded(StrEnum):
    NONE = "none"
    OFFICE = "office"
    COMMISSIONER = "commissioner"
    POLICE_OR_PARTNER = "police_or_partner"


class Urgency(StrEnum):
    ROUTINE = "routine"
    ATTENTION = "attention"
    URGENT = "urgent"


class FollowUpStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DONE = "done"


class MediaKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class GrantStatus(StrEnum):
    RECOMMENDED = "recommended"
    IN_REVIEW = "in_review"
    INFO_REQUESTED = "info_requested"
    REFERRED = "referred"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ExpenseStatus(StrEnum):
    SUBMITTED = "submitted"
    QUERIED = "queried"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"


class MeetingKind(StrEnum):
    QUARTERLY = "quarterly"
    CATCH_UP = "catch_up"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"


# Statuses are plain strings (validated by the operations) so adding one is no migration.


class Area(Base):
    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PlanObjective(Base):
    __tablename__ = "plan_objectives"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    roles: Mapped[list[str]] = mapped_column(default=list)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    slack_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(200))
    monthly_hours: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    away_until: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    erased_at: Mapped[dt.datetime | None]

    area: Mapped[Area | None] = relationship(lazy="joined")

    def has_role(self, *roles: Role) -> bool:
        return any(str(role) in self.roles for role in roles)


class Invite(Base):
    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    revoked_at: Mapped[dt.datetime | None]


class Engagement(Base):
    __tablename__ = "engagements"
    __table_args__ = (
        Index("ix_engagements_starts_at", "starts_at"),
        Index("ix_engagements_ambassador_starts", "ambassador_id", "starts_at"),
        Index("ix_engagements_area_starts", "area_id", "starts_at"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    ambassador_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(120))
    place: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    expected_audience: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(20), default=EngagementStatus.PLANNED)
    notice_given_at: Mapped[dt.datetime | None]
    reported_after: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    feedback_nudges: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    ambassador: Mapped[Person] = relationship(foreign_keys=[ambassador_id])
    area: Mapped[Area] = relationship(lazy="joined")
    feedback: Mapped[Feedback | None] = relationship(back_populates="engagement", uselist=False)


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_submitted_at", "submitted_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), unique=True)
    ambassador_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    attendees: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)
    outcomes: Mapped[str | None] = mapped_column(Text)
    follow_up_needed: Mapped[str] = mapped_column(String(20),
                                                  default=FollowUpNeeded.NONE)
    follow_up_detail: Mapped[str | None] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(20), default=Urgency.ROUTINE)
    minutes_spent: Mapped[int | None]
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[dt.datetime | None]

    engagement: Mapped[Engagement] = relationship(back_populates="feedback")
    groups: Mapped[list[FeedbackGroup]] = relationship(cascade="all, delete-orphan",
                                                       lazy="selectin")
    topics: Mapped[list[FeedbackTopic]] = relationship(cascade="all, delete-orphan",
                                                       lazy="selectin")


class FeedbackGroup(Base):
    """A demographic group met; a row each so the digest can count coverage in SQL."""
    __tablename__ = "feedback_groups"
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"),
                                             primary_key=True)
    name: Mapped[str] = mapped_column(String(120), primary_key=True)


class FeedbackTopic(Base):
    __tablename__ = "feedback_topics"
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"),
                                             primary_key=True)
    name: Mapped[str] = mapped_column(String(120), primary_key=True)


class FollowUp(Base):
    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_status_due", "status", "due_at"),
                      Index("ix_follow_ups_created_at", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    # Empty for an action agreed at a meeting (meeting_id, below): not every follow-up
    # comes from an engagement's feedback.
    feedback_id: Mapped[int | None] = mapped_column(ForeignKey("feedback.id"))
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagements.id"))
    needed_by: Mapped[str] = mapped_column(String(20))
    urgency: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    status: Mapped[str] = mapped_column(String(20), default=FollowUpStatus.OPEN)
    due_at: Mapped[dt.datetime]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    acknowledged_at: Mapped[dt.datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    done_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Media(Base):
    __tablename__ = "media"
    __table_args__ = (Index("ix_media_created_at", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"))
    ambassador_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(20))
    telegram_file_id: Mapped[str | None] = mapped_column(String(255))
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    safe_path: Mapped[str | None] = mapped_column(String(500))
    thumb_path: Mapped[str | None] = mapped_column(String(500))
    width: Mapped[int | None]
    height: Mapped[int | None]
    size_bytes: Mapped[int | None]
    caption: Mapped[str | None] = mapped_column(Text)
    album_key: Mapped[str | None] = mapped_column(String(64))
    consent_given: Mapped[bool] = mapped_column(Boolean, default=False)
    children_present: Mapped[bool] = mapped_column(Boolean, default=False)
    guardian_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    review_status: Mapped[str] = mapped_column(String(20), default=ReviewStatus.PENDING)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reviewed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


grant_objectives_table_name = "grant_objectives"


class GrantObjective(Base):
    __tablename__ = grant_objectives_table_name
    grant_id: Mapped[int] = mapped_column(ForeignKey("grant_recommendations.id",
                                                     ondelete="CASCADE"), primary_key=True)
    objective_id: Mapped[int] = mapped_column(ForeignKey("plan_objectives.id"), primary_key=True)


class GrantRecommendation(Base):
    __tablename__ = "grant_recommendations"
    __table_args__ = (Index("ix_grants_status", "status"),
                      Index("ix_grants_created_at", "created_at"),
                      CheckConstraint("amount_pence > 0", name="amount_positive"))
    id: Mapped[int] = mapped_column(primary_key=True)
    ambassador_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagements.id"))
    applicant_organisation: Mapped[str] = mapped_column(String(200))
    applicant_contact: Mapped[str] = mapped_column(String(300))
    project: Mapped[str] = mapped_column(Text)
    amount_pence: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=GrantStatus.RECOMMENDED)
    info_request: Mapped[str | None] = mapped_column(Text)
    deputy_recommendation: Mapped[str | None] = mapped_column(Text)
    scrutinised_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[dt.datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    objectives: Mapped[list[PlanObjective]] = relationship(secondary=grant_objectives_table_name,
                                                           lazy="selectin")
    ambassador: Mapped[Person] = relationship(foreign_keys=[ambassador_id], lazy="joined")
    area: Mapped[Area] = relationship(lazy="joined")


class Fund(Base):
    """The grant fund. `committed_pence` is the sum of its ledger, kept beside it so a single
    conditional UPDATE can refuse an approval atomically (see operations.grants)."""
    __tablename__ = "funds"
    __table_args__ = (CheckConstraint("committed_pence <= size_pence", name="never_negative"),
                      CheckConstraint("committed_pence >= 0", name="committed_not_negative"))
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    size_pence: Mapped[int] = mapped_column(Integer)
    committed_pence: Mapped[int] = mapped_column(Integer, default=0)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)

    @property
    def remaining_pence(self) -> int:
        return self.size_pence - self.committed_pence


class FundLedgerEntry(Base):
    __tablename__ = "fund_ledger"
    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grant_recommendations.id"))
    amount_pence: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HoursEntry(Base):
    __tablename__ = "hours_entries"
    __table_args__ = (Index("ix_hours_person_worked_on", "person_id", "worked_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    worked_on: Mapped[dt.date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagements.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExpenseClaim(Base):
    __tablename__ = "expense_claims"
    __table_args__ = (CheckConstraint("amount_pence > 0", name="amount_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    amount_pence: Mapped[int] = mapped_column(Integer)
    miles_tenths: Mapped[int | None]
    incurred_on: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    receipt_file_id: Mapped[str | None] = mapped_column(String(255))
    receipt_path: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default=ExpenseStatus.SUBMITTED)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[dt.datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = (Index("ix_meetings_starts_at", "starts_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    cancelled_at: Mapped[dt.datetime | None]
    reminded_week_at: Mapped[dt.datetime | None]
    reminded_day_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    rsvps: Mapped[list[MeetingRsvp]] = relationship(lazy="selectin")


class MeetingRsvp(Base):
    __tablename__ = "meeting_rsvps"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    answer: Mapped[str] = mapped_column(String(10))
    answered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Outbox(Base):
    """Every message to Slack or Telegram, written with the change that causes it.

    `payload` holds what the renderer needs (always a plain `text`); `ref` names the message
    so a later change can rewrite it in place (`replaces_ref`), e.g. a grant's post once decided.
    """
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),
                      Index("ix_outbox_destination_id", "transport", "destination", "id"),
                      Index("ix_outbox_ref", "ref"))
    id: Mapped[int] = mapped_column(primary_key=True)
    transport: Mapped[str] = mapped_column(String(10))
    destination: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ref: Mapped[str | None] = mapped_column(String(120))
    replaces_ref: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    external_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_at", "at"), Index("ix_audit_target", "target_type",
                                                         "target_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[int | None]
    outcome: Mapped[str] = mapped_column(String(10), default="done")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)


class ProcessedUpdate(Base):
    """An incoming update (Telegram update_id, Slack retry key) recorded with its effect,
    so the same update delivered twice is handled once."""
    __tablename__ = "processed_updates"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    processed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class FormDraft(Base):
    """A half-finished form, saved after every answer so a restart loses nothing.

    One per person per form: starting another form puts this one aside (`active` false)
    rather than throwing it away, and starting this form again offers to carry on. `active`
    marks the form the person is in now (at most one per person and app)."""
    __tablename__ = "form_drafts"
    __table_args__ = (UniqueConstraint("person_id", "transport", "form",
                                       name="uq_form_drafts_person_form"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    transport: Mapped[str] = mapped_column(String(10))
    form: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    expires_at: Mapped[dt.datetime]


# --- Added by the schedules issue (scheduler/, storage/operations/reminders.py) -------------


class ScheduleMark(Base):
    """One row per thing a schedule does once: a week's digest, a person's catch-up question
    for a week, a meeting reminder to one person, the office's alert about a failing chat.
    Inserted with ON CONFLICT DO NOTHING, so a job that runs twice sends once."""
    __tablename__ = "schedule_marks"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    done_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ScheduleState(Base):
    """Each scheduled job's next run time, saved after each run completes: after downtime a
    job whose time passed is due at once and runs once (APScheduler coalesces missed runs),
    and a new leader carries on where the old one stopped. `trigger` is the schedule it was
    computed from; when the scheme's schedule changes, the next run is worked out afresh."""
    __tablename__ = "schedule_state"
    job_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    trigger: Mapped[str] = mapped_column(String(500))
    next_run_time: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# The dispatcher's flag for a message whose send timed out after the request left (it may or
# may not have arrived): it is retried at most once more, then left as status "unknown".
Outbox.outcome_unknown = mapped_column(Boolean, default=False, server_default="0",
                                       nullable=False)

# The digest counts follow-ups still open at the end of a past week (done after it ended).
Index("ix_follow_ups_done_at", FollowUp.done_at)

# --- Added by the reports issue (storage/reports/, storage/operations/outcomes.py) ----------

# The outcome excerpt the office marked as publishable (its own wording, checked for names):
# reports quote this, never the ambassador's unreviewed `outcomes`.
Feedback.public_outcome = mapped_column(Text, nullable=True)
Feedback.public_outcome_by_id = mapped_column(ForeignKey("people.id"), nullable=True)
Feedback.public_outcome_at = mapped_column(UTCDateTime, nullable=True)
# Grants register: grants by when they were decided.
Index("ix_grants_decided_at", GrantRecommendation.decided_at)

# --- Added by the money and time issue (storage/operations/expenses.py, funds.py) ----------

# The receipt as the media pipeline left it: a safe copy (receipt_path) and its thumbnail.
ExpenseClaim.receipt_thumb_path = mapped_column(String(500), nullable=True)
ExpenseClaim.paid_by_id = mapped_column(ForeignKey("people.id"), nullable=True)
# Time given with feedback is one hours entry for its engagement, so it is counted once.
Index("uq_hours_entries_engagement_id", HoursEntry.engagement_id, unique=True)

# --- Added by the meetings issue (storage/operations/meeting_series.py, meeting_notes.py) ---

# A meeting the scheme's pattern put in the diary carries its occurrence ("quarterly:2027-04"):
# unique, so the job that plans ahead creates (and invites to) each one once.
Meeting.series_key = mapped_column(String(40), nullable=True, unique=True)
# Why the date is not the pattern's own (a bank holiday), said in the invitation and the post.
Meeting.date_note = mapped_column(String(300), nullable=True)
Meeting.notes = mapped_column(Text, nullable=True)
Meeting.decisions = mapped_column(Text, nullable=True)
Meeting.notes_by_id = mapped_column(ForeignKey("people.id"), nullable=True)
Meeting.notes_at = mapped_column(UTCDateTime, nullable=True)
# "Can't come" may carry a note for the office.
MeetingRsvp.note = mapped_column(Text, nullable=True)
# An action agreed at a meeting is a follow-up of that meeting.
FollowUp.meeting_id = mapped_column(ForeignKey("meetings.id"), nullable=True)


class MeetingRsvpChange(Base):
    """Every reply as it was given, so a change of mind is kept (MeetingRsvp holds the
    latest, which is what counts)."""
    __tablename__ = "meeting_rsvp_changes"
    __table_args__ = (Index("ix_meeting_rsvp_changes_meeting", "meeting_id", "answered_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    answer: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MeetingAttendance(Base):
    """Who came to a meeting, as the office recorded it afterwards."""
    __tablename__ = "meeting_attendance"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)

# --- Added by the catch-ups issue (storage/operations/catch_ups.py) -----------------------


class CatchUp(Base):
    """An ambassador's answer to the weekly catch-up question, kept (issue 19): who, which
    ISO week, what they said, and whether it raises something for the office. Turned into a
    follow-up from its Slack post, it points at that follow-up (once: unique)."""
    __tablename__ = "catch_ups"
    __table_args__ = (Index("ix_catch_ups_week", "week", "person_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    week: Mapped[str] = mapped_column(String(8))            # "2026-W48"
    answer: Mapped[str] = mapped_column(Text)
    raised: Mapped[bool] = mapped_column(Boolean, default=True)
    answered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("follow_ups.id"), unique=True)
