"""What the office sees at a glance (Slack's /ambassadors stats and App Home): read-only
figures, plus the two small outbox helpers the Slack listeners need. No Slack here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (Area, Engagement, EngagementStatus, Feedback, FollowUp,
                            FollowUpStatus, GrantRecommendation, GrantStatus, Meeting,
                            MeetingRsvp, Outbox, Person)
from storage import outbox
from storage.outbox import SLACK
from storage.operations.funds import period_label
from storage.operations.people import the_fund
from storage.operations.follow_ups import follow_up_title
from storage.scheme import Scheme

# Ages of open follow-ups, in days: "under a day", "1–3 days", "3–7 days", "over a week".
AGE_BUCKETS = ((0, 1, "under a day"), (1, 3, "1–3 days"), (3, 7, "3–7 days"),
               (7, None, "over a week"))
PIPELINE = (GrantStatus.RECOMMENDED, GrantStatus.IN_REVIEW, GrantStatus.INFO_REQUESTED,
            GrantStatus.REFERRED, GrantStatus.APPROVED, GrantStatus.REJECTED)


def week_start(now: dt.datetime, scheme: Scheme) -> dt.datetime:
    """Monday 00:00 of this week in the scheme's time zone, as an aware datetime."""
    local = now.astimezone(scheme.tz).date()
    monday = local - dt.timedelta(days=local.weekday())
    return dt.datetime.combine(monday, dt.time(), scheme.tz)


def quarter_start(now: dt.datetime, scheme: Scheme) -> dt.datetime:
    local = now.astimezone(scheme.tz).date()
    first = dt.date(local.year, 3 * ((local.month - 1) // 3) + 1, 1)
    return dt.datetime.combine(first, dt.time(), scheme.tz)


@dataclass
class AreaFigures:
    area: str
    engagements: int = 0
    feedback: int = 0
    people_reached: int = 0
    grants: int = 0
    grants_pence: int = 0


async def figures_by_area(session: AsyncSession, start: dt.datetime,
                          end: dt.datetime) -> list[AreaFigures]:
    """Engagements (not cancelled) starting in [start, end), their feedback and people
    reached, and grants recommended in the window, for every active area."""
    areas = (await session.scalars(select(Area).where(Area.active.is_(True))
                                   .order_by(Area.id))).all()
    rows = {a.id: AreaFigures(a.name) for a in areas}
    in_window = (Engagement.starts_at >= start, Engagement.starts_at < end,
                 Engagement.status != EngagementStatus.CANCELLED.value)
    for area_id, count in (await session.execute(
            select(Engagement.area_id, func.count()).where(*in_window)
            .group_by(Engagement.area_id))).all():
        if area_id in rows:
            rows[area_id].engagements = count
    for area_id, count, people in (await session.execute(
            select(Engagement.area_id, func.count(Feedback.id),
                   func.coalesce(func.sum(Feedback.attendees), 0))
            .join(Feedback, Feedback.engagement_id == Engagement.id).where(*in_window)
            .group_by(Engagement.area_id))).all():
        if area_id in rows:
            rows[area_id].feedback, rows[area_id].people_reached = count, int(people)
    for area_id, count, pence in (await session.execute(
            select(GrantRecommendation.area_id, func.count(),
                   func.coalesce(func.sum(GrantRecommendation.amount_pence), 0))
            .where(GrantRecommendation.created_at >= start, GrantRecommendation.created_at < end)
            .group_by(GrantRecommendation.area_id))).all():
        if area_id in rows:
            rows[area_id].grants, rows[area_id].grants_pence = count, int(pence)
    return list(rows.values())


@dataclass
class EngagementRow:
    id: int
    title: str
    area: str
    ambassador: str
    starts_at: dt.datetime
    status: str


async def engagements_between(session: AsyncSession, start: dt.datetime, end: dt.datetime,
                              limit: int = 15) -> tuple[int, list[EngagementRow]]:
    """How many engagements (not cancelled) start in the window, and the first `limit`."""
    amb = aliased(Person)
    where = (Engagement.starts_at >= start, Engagement.starts_at < end,
             Engagement.status != EngagementStatus.CANCELLED.value)
    total = await session.scalar(select(func.count()).select_from(Engagement).where(*where))
    rows = (await session.execute(
        select(Engagement.id, Engagement.title, Area.name, amb.name, Engagement.starts_at,
               Engagement.status)
        .join(Area, Area.id == Engagement.area_id).join(amb, amb.id == Engagement.ambassador_id)
        .where(*where).order_by(Engagement.starts_at).limit(limit))).all()
    return int(total or 0), [EngagementRow(*row) for row in rows]


@dataclass
class FollowUpRow:
    id: int
    title: str
    urgency: str
    status: str
    detail: str
    created_at: dt.datetime
    due_at: dt.datetime
    owner: str | None


@dataclass
class OpenFollowUps:
    by_age: list[tuple[str, int]]
    overdue: int
    oldest: list[FollowUpRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(count for _, count in self.by_age)


async def open_follow_ups(session: AsyncSession, now: dt.datetime,
                          limit: int = 5) -> OpenFollowUps:
    """Follow-ups not yet done, counted by age, with how many are past due and the oldest."""
    not_done = FollowUp.status != FollowUpStatus.DONE.value
    by_age = []
    for low, high, label in AGE_BUCKETS:
        clauses = [not_done, FollowUp.created_at <= now - dt.timedelta(days=low)]
        if high is not None:
            clauses.append(FollowUp.created_at > now - dt.timedelta(days=high))
        count = await session.scalar(select(func.count()).select_from(FollowUp).where(*clauses))
        by_age.append((label, int(count or 0)))
    overdue = await session.scalar(select(func.count()).select_from(FollowUp).where(
        not_done, FollowUp.due_at < now))
    owner = aliased(Person)
    rows = (await session.execute(
        select(FollowUp.id, follow_up_title(), FollowUp.urgency, FollowUp.status,
               FollowUp.detail, FollowUp.created_at, FollowUp.due_at, owner.name)
        .outerjoin(Engagement, Engagement.id == FollowUp.engagement_id)
        .outerjoin(Meeting, Meeting.id == FollowUp.meeting_id)
        .outerjoin(owner, owner.id == FollowUp.owner_id)
        .where(not_done).order_by(FollowUp.created_at).limit(limit))).all()
    return OpenFollowUps(by_age, int(overdue or 0), [FollowUpRow(*row) for row in rows])


@dataclass
class GrantPipeline:
    by_status: list[tuple[str, int, int]]      # status, count, pence
    fund_size_pence: int
    fund_remaining_pence: int
    waiting: list[GrantRecommendation]
    fund_period: str = ""


async def grant_pipeline(session: AsyncSession, scheme: Scheme,
                         limit: int = 8, on: dt.date | None = None) -> GrantPipeline:
    """Grants by status with their totals, the fund, and the undecided grants oldest first."""
    found = {status: (count, int(pence)) for status, count, pence in (await session.execute(
        select(GrantRecommendation.status, func.count(),
               func.coalesce(func.sum(GrantRecommendation.amount_pence), 0))
        .group_by(GrantRecommendation.status))).all()}
    fund = await the_fund(session, scheme, on)
    waiting = (await session.scalars(
        select(GrantRecommendation).where(GrantRecommendation.status.in_(
            [s.value for s in PIPELINE[:4]]))
        .order_by(GrantRecommendation.created_at).limit(limit))).all()
    return GrantPipeline([(s.value, *found.get(s.value, (0, 0))) for s in PIPELINE],
                         fund.size_pence, fund.remaining_pence, list(waiting),
                         period_label(fund.starts_on, fund.ends_on))


async def feedback_overdue(session: AsyncSession, scheme: Scheme, now: dt.datetime,
                           days: int = 60, limit: int = 10) -> tuple[int, list[EngagementRow]]:
    """Engagements that ended more than the scheme's feedback_due_hours ago (within `days`),
    were not cancelled, and still have no feedback."""
    due_before = now - dt.timedelta(hours=scheme.limits.feedback_due_hours)
    amb = aliased(Person)
    where = (Feedback.id.is_(None), Engagement.status != EngagementStatus.CANCELLED.value,
             Engagement.ends_at <= due_before,
             Engagement.starts_at >= now - dt.timedelta(days=days))
    base = (select(Engagement.id, Engagement.title, Area.name, amb.name, Engagement.starts_at,
                   Engagement.status)
            .outerjoin(Feedback, Feedback.engagement_id == Engagement.id)
            .join(Area, Area.id == Engagement.area_id)
            .join(amb, amb.id == Engagement.ambassador_id).where(*where))
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = (await session.execute(base.order_by(Engagement.starts_at).limit(limit))).all()
    return int(total or 0), [EngagementRow(*row) for row in rows]


@dataclass
class MeetingRow:
    id: int
    kind: str
    title: str
    place: str
    starts_at: dt.datetime
    answers: dict[str, int]


async def upcoming_meetings(session: AsyncSession, now: dt.datetime,
                            limit: int = 10) -> list[MeetingRow]:
    meetings = (await session.scalars(
        select(Meeting).where(Meeting.cancelled_at.is_(None), Meeting.starts_at >= now)
        .order_by(Meeting.starts_at).limit(limit))).all()
    counts: dict[int, dict[str, int]] = {m.id: {} for m in meetings}
    if meetings:
        for meeting_id, answer, count in (await session.execute(
                select(MeetingRsvp.meeting_id, MeetingRsvp.answer, func.count())
                .where(MeetingRsvp.meeting_id.in_(list(counts)))
                .group_by(MeetingRsvp.meeting_id, MeetingRsvp.answer))).all():
            counts[meeting_id][answer] = count
    return [MeetingRow(m.id, m.kind, m.title, m.place, m.starts_at, counts[m.id])
            for m in meetings]


async def latest_rewrite(session: AsyncSession, ref: str) -> Outbox | None:
    """The newest queued message that rewrites the message named `ref` (e.g. the grant's
    post once decided), so the clicked message can show it at once."""
    return await session.scalar(select(Outbox).where(Outbox.replaces_ref == ref)
                                .order_by(Outbox.id.desc()).limit(1))


async def queue_slack_dm(session: AsyncSession, slack_id: str, event: str, text: str,
                         data: dict[str, Any] | None = None) -> Outbox:
    """A message to a Slack DM whatever app the person usually uses (a reply to their DM)."""
    row = Outbox(transport=SLACK, destination=slack_id, event=event,
                 payload={"text": text, **(data or {})})
    outbox.queue_row(session, row)
    await session.flush()
    return row


async def fund_remaining(session: AsyncSession, scheme: Scheme) -> tuple[int, int]:
    fund = await the_fund(session, scheme)
    return fund.size_pence, fund.remaining_pence
