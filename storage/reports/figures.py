"""The figures of a period, by area and in total: one set of sums for every report.

Each function reads one indexed window ([start, end) on the column that dates the record:
an engagement by when it starts, a follow-up by when it was raised or closed, a grant by when
it was recommended or decided, a photo by when it arrived), so a quarter's report costs what a
quarter holds, not the whole history. Counts and sums are SQL aggregates; the only rows that
come back are the short lists (publishable outcome excerpts, photos approved for use).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.models import (Area, Engagement, EngagementStatus, Feedback, FeedbackGroup,
                            FeedbackTopic, FollowUp, FollowUpStatus, Fund, FundLedgerEntry,
                            GrantRecommendation, GrantStatus, HoursEntry, Media, Person,
                            ReviewStatus, Role)
from storage.reports.periods import Period
from storage.scheme import Scheme

EXCERPT_LIMIT = 40
PHOTO_LIMIT = 12


@dataclass
class Activity:
    """Engagements and people reached in one area (or all) over a window."""
    held: int = 0
    planned: int = 0
    cancelled: int = 0
    reached: int = 0
    with_feedback: int = 0
    with_outcomes: int = 0

    @property
    def engagements(self) -> int:
        return self.held + self.planned + self.cancelled


@dataclass
class AreaFigures:
    area: str
    activity: Activity = field(default_factory=Activity)
    groups_reached: list[str] = field(default_factory=list)
    groups_not_reached: list[str] = field(default_factory=list)
    follow_ups_raised: int = 0
    follow_ups_closed: int = 0
    follow_ups_overdue: int = 0
    grants_recommended: int = 0
    grants_recommended_pence: int = 0
    grants_approved: int = 0
    grants_approved_pence: int = 0
    grants_rejected: int = 0
    minutes: int = 0
    commitment_minutes: int = 0
    photos_approved: int = 0
    photos_with_consent: int = 0


@dataclass(frozen=True)
class Excerpt:
    area: str
    day: dt.date
    text: str


@dataclass(frozen=True)
class Photo:
    area: str
    day: dt.date
    thumb_path: str | None
    consent: bool
    children_present: bool
    guardian_consent: bool


@dataclass
class PeriodFigures:
    scheme_name: str
    period: Period
    areas: list[AreaFigures]
    topics: list[tuple[str, int]] = field(default_factory=list)
    excerpts: list[Excerpt] = field(default_factory=list)
    photos: list[Photo] = field(default_factory=list)
    fund_size_pence: int = 0
    fund_remaining_pence: int = 0

    def total(self, name: str) -> int:
        return sum(_get(a, name) for a in self.areas)

    @property
    def groups_reached(self) -> list[str]:
        seen = {g for a in self.areas for g in a.groups_reached}
        return [g for g in self._group_order if g in seen]

    @property
    def groups_not_reached(self) -> list[str]:
        seen = set(self.groups_reached)
        return [g for g in self._group_order if g not in seen]

    _group_order: list[str] = field(default_factory=list, repr=False)


def _get(area: AreaFigures, name: str) -> int:
    if hasattr(area.activity, name):
        return int(getattr(area.activity, name))
    return int(getattr(area, name))


async def area_activity(conn: AsyncConnection, start: dt.datetime,
                        end: dt.datetime) -> dict[str, Activity]:
    """Engagements starting in [start, end) by area and status, with the people reached and
    the feedback and outcomes recorded at them. The digest's four-week average reads this too."""
    rows = (await conn.execute(
        select(Area.name, Engagement.status, func.count(Engagement.id),
               func.coalesce(func.sum(Feedback.attendees), 0), func.count(Feedback.id),
               func.count(Feedback.outcomes))
        .select_from(Engagement).join(Area, Area.id == Engagement.area_id)
        .outerjoin(Feedback, Feedback.engagement_id == Engagement.id)
        .where(Engagement.starts_at >= start, Engagement.starts_at < end)
        .group_by(Area.name, Engagement.status))).all()
    out: dict[str, Activity] = defaultdict(Activity)
    for area, status, n, reached, filed, outcomes in rows:
        a = out[area]
        if status in (EngagementStatus.HELD, EngagementStatus.PLANNED,
                      EngagementStatus.CANCELLED):
            setattr(a, str(status), getattr(a, str(status)) + int(n))
        a.reached += int(reached)
        a.with_feedback += int(filed)
        a.with_outcomes += int(outcomes)
    return dict(out)


async def period_figures(session: AsyncSession, scheme: Scheme, period: Period
                         ) -> PeriodFigures:
    """Every figure of the panel report for `period`, by area in the scheme's order."""
    tz = scheme.tz
    start, end = period.start(tz), period.end(tz)
    conn = await session.connection()
    activity = await area_activity(conn, start, end)
    names = list(scheme.areas) + sorted(a for a in activity if a not in scheme.areas)
    areas = {name: AreaFigures(area=name, activity=activity.get(name, Activity()))
             for name in names}

    def area_of(name: str) -> AreaFigures:
        if name not in areas:
            areas[name] = AreaFigures(area=name)
        return areas[name]

    ids = await engagement_ids(conn, start, end)
    for area, group in await group_counts(conn, ids):
        area_of(area).groups_reached.append(group)
    topics = await topic_counts(conn, ids)
    order = {g: i for i, g in enumerate(scheme.demographic_groups)}
    for a in areas.values():
        a.groups_reached.sort(key=lambda g: (order.get(g, len(order)), g))
        a.groups_not_reached = [g for g in scheme.demographic_groups
                                if g not in a.groups_reached]

    await add_follow_ups(conn, start, end, area_of)
    await add_grants(conn, start, end, area_of)
    await _hours(conn, period, area_of)
    await _photo_counts(conn, start, end, area_of)
    figures = PeriodFigures(
        scheme_name=scheme.name, period=period, areas=list(areas.values()),
        topics=sorted(topics.items(), key=lambda x: (-x[1], x[0])),
        excerpts=await publishable_outcomes(conn, scheme, start, end, ids=ids),
        photos=await approved_photos(conn, scheme, start, end),
        _group_order=list(scheme.demographic_groups))
    figures.fund_size_pence, figures.fund_remaining_pence = await fund_at(
        conn, scheme, period.last, end)
    return figures


async def add_follow_ups(conn: AsyncConnection, start: dt.datetime, end: dt.datetime,
                         area_of: Any) -> None:
    """Raised in the period, closed in it, and overdue at its end (due before the end and
    not closed by then). Four parts, each on its own index (created_at; done_at; status and
    due_at), rather than one OR over them all, which would read every follow-up ever made."""
    open_statuses = [FollowUpStatus.OPEN.value, FollowUpStatus.ACKNOWLEDGED.value]
    # "Made before the end" is counted (CASE), not filtered: in WHERE, SQLite would walk the
    # created_at index over every follow-up ever made instead of the status or done_at one.
    made_before = func.sum(case((FollowUp.created_at < end, 1), else_=0))
    parts = [("raised", func.count(), (FollowUp.created_at >= start, FollowUp.created_at < end)),
             ("closed", func.count(), (FollowUp.done_at >= start, FollowUp.done_at < end)),
             ("overdue", made_before, (FollowUp.status.in_(open_statuses),
                                       FollowUp.due_at < end)),
             # Closed after the end: only done_at in WHERE (a follow-up has one once it is
             # done), or SQLite takes the status index and reads every one ever closed.
             ("overdue", func.sum(case((and_(FollowUp.created_at < end, FollowUp.due_at < end),
                                        1), else_=0)), (FollowUp.done_at >= end,))]
    rows = (await conn.execute(union_all(*(
        select(literal(kind).label("kind"), Area.name.label("area"), counted.label("n"))
        .select_from(FollowUp).join(Engagement, Engagement.id == FollowUp.engagement_id)
        .join(Area, Area.id == Engagement.area_id).where(*where).group_by(Area.name)
        for kind, counted, where in parts)))).all()
    for kind, area, n in rows:
        a = area_of(area)
        name = f"follow_ups_{kind}"
        setattr(a, name, getattr(a, name) + int(n or 0))


async def add_grants(conn: AsyncConnection, start: dt.datetime, end: dt.datetime,
                     area_of: Any) -> None:
    """Recommended in the period (by when the ambassador recommended it), approved and
    rejected in it (by when the Commissioner decided)."""
    g = GrantRecommendation
    made = and_(g.created_at >= start, g.created_at < end)
    decided = and_(g.decided_at >= start, g.decided_at < end)
    approved = and_(decided, g.status == GrantStatus.APPROVED.value)
    rejected = and_(decided, g.status == GrantStatus.REJECTED.value)

    def n(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    def pence(condition: Any) -> Any:
        return func.sum(case((condition, g.amount_pence), else_=0))

    rows = (await conn.execute(
        select(Area.name, n(made), pence(made), n(approved), pence(approved), n(rejected))
        .select_from(g).join(Area, Area.id == g.area_id)
        .where(or_(made, decided)).group_by(Area.name))).all()
    for area, made_n, made_p, app_n, app_p, rej_n in rows:
        a = area_of(area)
        a.grants_recommended, a.grants_recommended_pence = int(made_n), int(made_p)
        a.grants_approved, a.grants_approved_pence = int(app_n), int(app_p)
        a.grants_rejected = int(rej_n)


async def _hours(conn: AsyncConnection, period: Period, area_of: Any) -> None:
    """Hours ambassadors logged for days in the period, against their monthly commitment
    times the months in it (ambassadors active now, in their area now). Read per person
    (the index is person then day), so a long history is not walked."""
    people = (await conn.execute(
        select(Person.id, Area.name, Person.roles, Person.active, Person.monthly_hours)
        .join(Area, Area.id == Person.area_id))).all()
    ambassadors = {pid: (area, active, monthly) for pid, area, roles, active, monthly in people
                   if Role.AMBASSADOR.value in (roles or [])}
    logged = dict((await conn.execute(
        select(HoursEntry.person_id, func.sum(HoursEntry.minutes))
        .where(HoursEntry.person_id.in_(list(ambassadors)),
               HoursEntry.worked_on >= period.first, HoursEntry.worked_on <= period.last)
        .group_by(HoursEntry.person_id))).all()) if ambassadors else {}
    for pid, (area, active, monthly) in ambassadors.items():
        minutes = int(logged.get(pid) or 0)
        if not (active or minutes):
            continue
        a = area_of(area)
        a.minutes += minutes
        if active:
            a.commitment_minutes += int(monthly or 0) * 60 * period.months


async def _photo_counts(conn: AsyncConnection, start: dt.datetime, end: dt.datetime,
                        area_of: Any) -> None:
    rows = (await conn.execute(
        select(Area.name, func.count(), func.sum(case((Media.consent_given.is_(True), 1),
                                                      else_=0)))
        .select_from(Media).join(Engagement, Engagement.id == Media.engagement_id)
        .join(Area, Area.id == Engagement.area_id)
        .where(Media.created_at >= start, Media.created_at < end,
               Media.review_status == ReviewStatus.APPROVED.value)
        .group_by(Area.name))).all()
    for area, n, consent in rows:
        a = area_of(area)
        a.photos_approved, a.photos_with_consent = int(n), int(consent or 0)


async def engagement_ids(conn: AsyncConnection, start: dt.datetime,
                         end: dt.datetime) -> list[int]:
    """The engagements starting in the window (one indexed range)."""
    return list((await conn.scalars(select(Engagement.id).where(
        Engagement.starts_at >= start, Engagement.starts_at < end))).all())


def _chunks(ids: list[int], size: int = 5000) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


# Feedback, its groups and topics are reached from the window's engagement ids (an IN list on
# feedback's engagement index), not by a join from the window: for a quarter, PostgreSQL's
# planner would rather read all feedback ever filed than look each engagement up.


async def group_counts(conn: AsyncConnection, ids: list[int]) -> dict[tuple[str, str], int]:
    """How many feedback reports met each demographic group, by (area, group), at the
    engagements `ids` that were not cancelled."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    for chunk in _chunks(ids):
        for area, group, n in (await conn.execute(
                select(Area.name, FeedbackGroup.name, func.count())
                .select_from(Feedback).join(Engagement, Engagement.id == Feedback.engagement_id)
                .join(Area, Area.id == Engagement.area_id)
                .join(FeedbackGroup, FeedbackGroup.feedback_id == Feedback.id)
                .where(Feedback.engagement_id.in_(chunk),
                       Engagement.status != EngagementStatus.CANCELLED.value)
                .group_by(Area.name, FeedbackGroup.name))).all():
            out[(area, group)] += int(n)
    return dict(out)


async def topic_counts(conn: AsyncConnection, ids: list[int]) -> dict[str, int]:
    """How many feedback reports raised each topic at the engagements `ids`."""
    out: dict[str, int] = defaultdict(int)
    for chunk in _chunks(ids):
        for topic, n in (await conn.execute(
                select(FeedbackTopic.name, func.count())
                .select_from(Feedback).join(FeedbackTopic, FeedbackTopic.feedback_id == Feedback.id)
                .where(Feedback.engagement_id.in_(chunk))
                .group_by(FeedbackTopic.name))).all():
            out[topic] += int(n)
    return dict(out)


async def publishable_outcomes(conn: AsyncConnection, scheme: Scheme, start: dt.datetime,
                               end: dt.datetime, limit: int = EXCERPT_LIMIT, *,
                               ids: list[int] | None = None) -> list[Excerpt]:
    """The outcome excerpts the office marked as publishable, for engagements in the window;
    never the ambassador's own words unreviewed."""
    ids = await engagement_ids(conn, start, end) if ids is None else ids
    rows: list[Any] = []
    for chunk in _chunks(ids):
        rows += (await conn.execute(
            select(Area.name, Engagement.starts_at, Engagement.id, Feedback.public_outcome)
            .select_from(Feedback).join(Engagement, Engagement.id == Feedback.engagement_id)
            .join(Area, Area.id == Engagement.area_id)
            .where(Feedback.engagement_id.in_(chunk), Feedback.public_outcome.is_not(None))
            .order_by(Engagement.starts_at, Engagement.id).limit(limit))).all()
    rows.sort(key=lambda r: (_aware(r[1]), r[2]))
    return [Excerpt(area, _aware(at).astimezone(scheme.tz).date(), text)
            for area, at, _, text in rows[:limit]]


async def approved_photos(conn: AsyncConnection, scheme: Scheme, start: dt.datetime,
                          end: dt.datetime, limit: int = PHOTO_LIMIT) -> list[Photo]:
    rows = (await conn.execute(
        select(Area.name, Media.created_at, Media.thumb_path, Media.consent_given,
               Media.children_present, Media.guardian_consent)
        .select_from(Media).join(Engagement, Engagement.id == Media.engagement_id)
        .join(Area, Area.id == Engagement.area_id)
        .where(Media.created_at >= start, Media.created_at < end,
               Media.review_status == ReviewStatus.APPROVED.value,
               Media.kind == "photo")
        .order_by(Media.created_at, Media.id).limit(limit))).all()
    return [Photo(area, _aware(at).astimezone(scheme.tz).date(), thumb, bool(consent),
                  bool(children), bool(guardian))
            for area, at, thumb, consent, children, guardian in rows]


async def fund_at(conn: AsyncConnection, scheme: Scheme, day: dt.date,
                  end: dt.datetime) -> tuple[int, int]:
    """The fund whose period holds `day`: its size, and what remained of it at `end` (its
    ledger up to then). Without one, the scheme's fund size less what was approved in the
    scheme's fund year up to `end`."""
    fund = (await conn.execute(
        select(Fund.id, Fund.size_pence).where(Fund.starts_on <= day, Fund.ends_on >= day)
        .order_by(Fund.starts_on.desc()).limit(1))).first()
    if fund is None:
        fund = (await conn.execute(select(Fund.id, Fund.size_pence).where(
            Fund.name == f"{scheme.name} grant fund"))).first()
    if fund is None:
        return scheme.limits.fund_size_pence, scheme.limits.fund_size_pence
    moved = await conn.scalar(
        select(func.coalesce(func.sum(FundLedgerEntry.amount_pence), 0))
        .where(FundLedgerEntry.fund_id == fund.id, FundLedgerEntry.created_at < end))
    return int(fund.size_pence), int(fund.size_pence) + int(moved or 0)


def _aware(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
