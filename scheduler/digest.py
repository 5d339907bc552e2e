"""The Commissioner's weekly digest (DESIGN §4 "Schedules"): figures, text, Block Kit, chart.

`build_digest` computes every figure with SQL aggregates over indexed time windows (the week,
the week before, the four weeks before its end, the week after), so its cost follows the size
of a week, not of the whole history (see `python -m bench digest`). The renderers turn the
`Digest` into plain text (Telegram, dry runs, the outbox's `text`), Slack Block Kit within
Slack's limits, and a PNG chart (matplotlib's Agg backend, no display needed).

A week runs Monday 00:00 to Monday 00:00 in the scheme's time zone; figures for "this week"
are set against the week before, shown in brackets.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, and_, case, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.db import Database
from storage.models import (Area, Engagement, EngagementStatus, Feedback, FollowUp,
                            FollowUpStatus, GrantRecommendation, GrantStatus, HoursEntry, Media,
                            Person, ReviewStatus, Role, Urgency, utcnow)
from storage.operations.catch_ups import WeekOfCatchUps, week_of_catch_ups
from storage.operations.funds import period_label
from storage.operations.people import active_people_with_role
from storage.operations.reminders import claim_mark
from storage.parsers import format_date, format_hours, format_money, format_when
from storage.reports.figures import (AreaFigures, Excerpt, add_follow_ups, add_grants,
                                     area_activity, fund_at, group_counts,
                                     publishable_outcomes, topic_counts)
from storage.scheme import Scheme

log = logging.getLogger(__name__)

NOT_REACHED_WEEKS = 4
OVERDUE_LOOKBACK_DAYS = 56   # feedback older than this is no longer chased in the digest
NUDGE_AGAIN_DAYS = 3         # the second nudge; after it, feedback is overdue (see jobs)
LIST_LIMIT = 10
CHART_SIZE = (900, 420)      # pixels, up to seven areas (taller with more: digest_chart.py)
CHART_DPI = 100
SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION = 3000
UNDECIDED = (GrantStatus.RECOMMENDED, GrantStatus.IN_REVIEW, GrantStatus.INFO_REQUESTED,
             GrantStatus.REFERRED)
STAGE_WORDS = {GrantStatus.RECOMMENDED: "recommended", GrantStatus.IN_REVIEW: "in review",
               GrantStatus.INFO_REQUESTED: "waiting for information",
               GrantStatus.REFERRED: "with the Commissioner"}


# ---- the figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AreaWeek:
    """One area's engagements and people reached, this week and the week before."""
    area: str
    held: int = 0
    planned: int = 0
    cancelled: int = 0
    reached: int = 0
    prev_held: int = 0
    prev_planned: int = 0
    prev_cancelled: int = 0
    prev_reached: int = 0
    avg_held: float = 0.0        # a week's average over the four weeks before the week before
    avg_reached: float = 0.0

    @property
    def engagements(self) -> int:
        return self.held + self.planned

    @property
    def prev_engagements(self) -> int:
        return self.prev_held + self.prev_planned


@dataclass(frozen=True)
class UrgentItem:
    follow_up_id: int
    urgency: str
    title: str
    area: str
    detail: str
    owner: str | None
    status: str
    due_at: dt.datetime


@dataclass(frozen=True)
class HoursLine:
    person_id: int
    name: str
    area: str | None
    week_minutes: int
    month_minutes: int
    commitment_minutes: int


@dataclass(frozen=True)
class EngagementLine:
    engagement_id: int
    title: str
    area: str
    ambassador: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str


@dataclass(frozen=True)
class GrantStage:
    status: str
    count: int
    pence: int


@dataclass
class Digest:
    """Every figure of one week's digest; `prev_*` are the week before."""
    scheme_name: str
    timezone: str
    week_start: dt.date                      # Monday
    areas: list[AreaWeek]
    feedback_filed: int = 0
    prev_feedback_filed: int = 0
    outcomes: int = 0
    prev_outcomes: int = 0
    groups_met: list[tuple[str, int]] = field(default_factory=list)
    groups_not_reached: dict[str, list[str]] = field(default_factory=dict)
    topics: list[tuple[str, int, int]] = field(default_factory=list)   # name, this, prev
    follow_ups_new: int = 0
    prev_follow_ups_new: int = 0
    follow_ups_open: int = 0
    follow_ups_overdue: int = 0
    urgent: list[UrgentItem] = field(default_factory=list)
    urgent_count: int = 0
    grant_stages: list[GrantStage] = field(default_factory=list)
    grants_approved: tuple[int, int] = (0, 0)     # count, pence decided this week
    grants_rejected: int = 0
    fund_size_pence: int = 0
    fund_remaining_pence: int = 0
    fund_period: tuple[dt.date, dt.date] | None = None
    month_start: dt.date | None = None
    hours: list[HoursLine] = field(default_factory=list)
    feedback_overdue: list[EngagementLine] = field(default_factory=list)
    feedback_overdue_count: int = 0
    next_week: list[EngagementLine] = field(default_factory=list)
    next_week_count: int = 0
    media_received: int = 0
    prev_media_received: int = 0
    media_approved: int = 0
    media_pending: int = 0
    excerpts: list[Excerpt] = field(default_factory=list)   # outcomes marked publishable
    catch_ups: WeekOfCatchUps | None = None                  # who answered, who did not, what

    @property
    def week_end(self) -> dt.date:
        """The Sunday the week ends on."""
        return self.week_start + dt.timedelta(days=6)

    @property
    def iso_week(self) -> str:
        year, week, _ = self.week_start.isocalendar()
        return f"{year}-W{week:02d}"

    def total(self, name: str) -> int:
        return sum(getattr(area, name) for area in self.areas)

    @property
    def is_quiet(self) -> bool:
        """Nothing at all was recorded for the week."""
        return not (self.total("held") or self.total("planned") or self.total("cancelled")
                    or self.feedback_filed or self.follow_ups_new or self.media_received
                    or self.grants_approved[0] or self.grants_rejected)


# ---- weeks ---------------------------------------------------------------------------------


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def parse_week(text: str) -> dt.date:
    """`2026-W47` (ISO week) or a date `2026-11-16` → that week's Monday."""
    text = text.strip()
    try:
        if "W" in text.upper():
            year, week = text.upper().split("-W")
            return dt.date.fromisocalendar(int(year), int(week), 1)
        return monday_of(dt.date.fromisoformat(text))
    except ValueError:
        raise ValueError(f"{text!r} is not a week; write it like 2026-W47 or 2026-11-16") \
            from None


def last_complete_week(now: dt.datetime, tz: Any) -> dt.date:
    """The Monday of the most recent week that has ended, in the scheme's zone."""
    return monday_of(now.astimezone(tz).date()) - dt.timedelta(days=7)


def local_midnight(day: dt.date, tz: Any) -> dt.datetime:
    """The first instant of a local day, as aware UTC."""
    return dt.datetime.combine(day, dt.time(0), tz).astimezone(dt.UTC)


# ---- building ------------------------------------------------------------------------------


class _Selective(ColumnElement[bool]):
    """A condition few rows meet (open follow-ups among all ever made). On SQLite it is sent
    as `likelihood(condition, 0.001)` so that, with ANALYZE statistics that only know a column
    has three values, the planner still takes the index instead of scanning the table; other
    databases get the condition as it is (PostgreSQL's statistics know the common values)."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True   # a condition itself: no "= 1" added on SQLite
    _traverse_internals = [("condition", InternalTraversal.dp_clauseelement)]  # cacheable

    def __init__(self, condition: ColumnElement[bool]) -> None:
        self.condition = condition


@compiles(_Selective)
def _selective_default(element: _Selective, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.condition, **kw)


@compiles(_Selective, "sqlite")
def _selective_sqlite(element: _Selective, compiler: Any, **kw: Any) -> str:
    return f"likelihood({compiler.process(element.condition, **kw)}, 0.001)"


async def build_digest(session: AsyncSession, scheme: Scheme, week_start: dt.date) -> Digest:
    """The figures for the week starting on `week_start` (any day of it will do).

    Each statement reads one indexed window (the week and the week before, the four weeks to
    its end, the week after) or one small indexed set (open follow-ups, undecided grants), so
    the cost follows a week's volume and not the history's. Engagements and people reached,
    follow-ups raised and overdue, grants decided and the fund are the report layer's sums
    (storage/reports/figures.py) over the week, the same the panel report uses; the rest is
    the digest's own, combined with UNION ALL and scalar subqueries because each statement is
    a round trip. Only the short lists (urgent items, overdue feedback, next week, hours per
    ambassador) come back as rows.
    """
    w = _Window(scheme, week_start)
    digest = Digest(scheme_name=scheme.name, timezone=scheme.timezone, week_start=w.monday,
                    areas=[])
    conn = await session.connection()   # Core statements: no ORM machinery per row
    await _activity(conn, scheme, digest, w)
    await _single_figures(conn, scheme, digest, w)
    await _lists(conn, scheme, digest, w)
    await _hours(conn, digest, w.monday)
    await _average_and_excerpts(conn, scheme, digest, w)
    # Ambassadors who joined after the week before began cannot have missed two weeks.
    digest.catch_ups = await week_of_catch_ups(session, w.monday, active_since=w.prev_start)
    return digest


AVERAGE_WEEKS = 4
EXCERPT_LIMIT = 5


async def _average_and_excerpts(conn: Any, scheme: Scheme, digest: Digest, w: _Window) -> None:
    """Held engagements and people reached per area in an average week of the four before
    the week before (the report layer's sums, over their window), and this week's outcome
    excerpts the office has marked publishable."""
    since = w.prev_start - dt.timedelta(days=7 * AVERAGE_WEEKS)
    activity = await area_activity(conn, since, w.prev_start)
    digest.areas = [replace(a, avg_held=activity[a.area].held / AVERAGE_WEEKS,
                            avg_reached=activity[a.area].reached / AVERAGE_WEEKS)
                    if a.area in activity else a for a in digest.areas]
    digest.excerpts = await publishable_outcomes(conn, scheme, w.start, w.end,
                                                 limit=EXCERPT_LIMIT)


class _Window:
    """The instants a digest week is measured against (local midnights, as UTC)."""

    def __init__(self, scheme: Scheme, week_start: dt.date) -> None:
        tz = scheme.tz
        self.monday = monday_of(week_start)
        self.start = local_midnight(self.monday, tz)
        self.end = local_midnight(self.monday + dt.timedelta(days=7), tz)
        self.prev_start = local_midnight(self.monday - dt.timedelta(days=7), tz)
        self.next_end = local_midnight(self.monday + dt.timedelta(days=14), tz)
        self.four_weeks = local_midnight(
            self.monday + dt.timedelta(days=7 - 7 * NOT_REACHED_WEEKS), tz)


async def _activity(conn: Any, scheme: Scheme, digest: Digest, w: _Window) -> None:
    """Engagements, people reached, feedback and outcomes by area and status, this week and
    the week before; groups met by area over four weeks and this week; topics this week and
    the week before. All are the report layer's sums, over each window."""
    per_area: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for prefix, start, end in (("", w.start, w.end), ("prev_", w.prev_start, w.start)):
        for area, activity in (await area_activity(conn, start, end)).items():
            figures = per_area[area]
            for status in ("held", "planned", "cancelled", "reached"):
                figures[prefix + status] += getattr(activity, status)
            if prefix:
                digest.prev_feedback_filed += activity.with_feedback
                digest.prev_outcomes += activity.with_outcomes
            else:
                digest.feedback_filed += activity.with_feedback
                digest.outcomes += activity.with_outcomes
    # The four weeks hold the week before and this week: one read of ids, split here.
    four_weeks = (await conn.execute(select(Engagement.id, Engagement.starts_at).where(
        Engagement.starts_at >= w.four_weeks, Engagement.starts_at < w.end))).all()
    this_week = [i for i, at in four_weeks if _aware(at) >= w.start]
    week_before = [i for i, at in four_weeks if w.prev_start <= _aware(at) < w.start]
    met_this_week: dict[str, int] = defaultdict(int)
    met_by_area: dict[str, set[str]] = defaultdict(set)
    for area, group in await group_counts(conn, [i for i, _ in four_weeks]):
        met_by_area[area].add(group)
    for (_, group), n in (await group_counts(conn, this_week)).items():
        met_this_week[group] += n
    this_topics = await topic_counts(conn, this_week)
    before_topics = await topic_counts(conn, week_before)
    raised = [(name, this_topics.get(name, 0), before_topics.get(name, 0))
                     for name in {**this_topics, **before_topics}]
    ordered = list(scheme.areas) + sorted(a for a in per_area if a not in scheme.areas)
    digest.areas = [AreaWeek(area=name, **per_area.get(name, {})) for name in ordered]
    order = {name: i for i, name in enumerate(scheme.demographic_groups)}
    digest.groups_met = sorted(((g, n) for g, n in met_this_week.items() if n),
                               key=lambda item: (-item[1], order.get(item[0], 99)))
    digest.groups_not_reached = {
        area: missing for area in scheme.areas
        if (missing := [g for g in scheme.demographic_groups if g not in met_by_area[area]])}
    topic_order = {name: i for i, name in enumerate(scheme.topics)}
    digest.topics = sorted(raised, key=lambda item: (-item[1], -item[2],
                                                     topic_order.get(item[0], 99)))


def _open_at(end: dt.datetime) -> tuple[Any, Any]:
    """Follow-ups open at `end`: not done yet, or done only after it — two conditions that
    each use an index (status; done_at), counted separately rather than OR-ed (a scan)."""
    open_now = _Selective(FollowUp.status.in_([FollowUpStatus.OPEN.value,
                                               FollowUpStatus.ACKNOWLEDGED.value]))
    done_later = and_(FollowUp.done_at >= end, FollowUp.status == FollowUpStatus.DONE.value)
    return open_now, done_later


def _tally() -> tuple[dict[str, AreaFigures], Any]:
    """Per-area figures for the report layer to add to, and its `area_of`."""
    areas: dict[str, AreaFigures] = {}

    def area_of(name: str) -> AreaFigures:
        if name not in areas:
            areas[name] = AreaFigures(area=name)
        return areas[name]
    return areas, area_of


async def _single_figures(conn: Any, scheme: Scheme, digest: Digest, w: _Window) -> None:
    """Every figure that is a single number. Follow-ups raised and overdue, grants decided and
    the fund are the report layer's sums over the week (storage/reports/figures.py), so the
    digest and the reports cannot disagree; what only the digest shows (follow-ups open and
    urgent at the week's end, photos, grants waiting by stage) is one row of scalar
    subqueries, each on its own index."""
    week, week_area = _tally()
    before, before_area = _tally()
    await add_follow_ups(conn, w.start, w.end, week_area)
    await add_follow_ups(conn, w.prev_start, w.start, before_area)
    await add_grants(conn, w.start, w.end, week_area)
    digest.follow_ups_new = sum(a.follow_ups_raised for a in week.values())
    digest.prev_follow_ups_new = sum(a.follow_ups_raised for a in before.values())
    digest.follow_ups_overdue = sum(a.follow_ups_overdue for a in week.values())
    digest.grants_approved = (sum(a.grants_approved for a in week.values()),
                              sum(a.grants_approved_pence for a in week.values()))
    digest.grants_rejected = sum(a.grants_rejected for a in week.values())
    # The fund as it stood at the end of the week: the one whose period holds the week's last
    # day, and what its ledger had committed by then (a past week's digest is not today's).
    last_day = w.monday + dt.timedelta(days=6)
    digest.fund_size_pence, digest.fund_remaining_pence = await fund_at(conn, scheme,
                                                                        last_day, w.end)
    digest.fund_period = scheme.finance.financial_year(last_day)

    def count(*where: Any, of: Any = FollowUp) -> Any:
        return select(func.count()).select_from(of).where(*where).scalar_subquery()

    def total(column: Any, *where: Any) -> Any:
        return select(func.coalesce(func.sum(column), 0)).where(*where).scalar_subquery()

    end = w.end
    open_now, done_later = _open_at(end)
    # "created before the end" is checked inside the count (CASE), not in WHERE: given the
    # choice, SQLite would walk the created_at index over every follow-up ever made.
    made_before = case((FollowUp.created_at < end, 1), else_=0)
    urgent = case((and_(FollowUp.created_at < end, FollowUp.urgency.in_(
        [Urgency.URGENT.value, Urgency.ATTENTION.value])), 1), else_=0)
    media_week = (Media.created_at >= w.start, Media.created_at < end)
    columns = [
        total(made_before, open_now), total(made_before, done_later),
        total(urgent, open_now), total(urgent, done_later),
        count(*media_week, of=Media),
        count(Media.created_at >= w.prev_start, Media.created_at < w.start, of=Media),
        count(*media_week, Media.review_status == ReviewStatus.APPROVED.value, of=Media),
        count(*media_week, Media.review_status == ReviewStatus.PENDING.value, of=Media),
    ]
    for status in UNDECIDED:
        columns += [count(GrantRecommendation.status == status.value, of=GrantRecommendation),
                    total(GrantRecommendation.amount_pence,
                          GrantRecommendation.status == status.value)]
    row = [None if value is None else int(value)
           for value in (await conn.execute(select(*columns))).one()]
    (open_now_n, open_later, urgent_now, urgent_later, media_this, media_prev, media_approved,
     media_pending, *stages) = row
    digest.follow_ups_open = open_now_n + open_later
    digest.urgent_count = urgent_now + urgent_later
    digest.media_received, digest.prev_media_received = media_this, media_prev
    digest.media_approved, digest.media_pending = media_approved, media_pending
    digest.grant_stages = [GrantStage(status.value, stages[2 * i], stages[2 * i + 1])
                           for i, status in enumerate(UNDECIDED) if stages[2 * i]]


async def _lists(conn: Any, scheme: Scheme, digest: Digest, w: _Window) -> None:
    """The short lists, each LIMITed, in one statement: urgent and attention follow-ups open
    at the week's end (and who holds them), feedback overdue, next week's engagements."""
    end = w.end
    urgency = [Urgency.URGENT.value, Urgency.ATTENTION.value]
    # "Made before the end" as a CASE, so that the planner keeps to the status and done_at
    # indexes rather than walking created_at over every follow-up ever made.
    made_before = case((FollowUp.created_at < end, 1), else_=0) == 1
    open_items = union_all(*(
        select(FollowUp.id, FollowUp.engagement_id, FollowUp.owner_id, FollowUp.urgency,
               FollowUp.detail, FollowUp.due_at)
        .where(where, FollowUp.urgency.in_(urgency), made_before)
        for where in _open_at(end))).subquery()
    urgent = (select(literal("urgent").label("kind"), open_items.c.id.label("id"),
                     open_items.c.engagement_id.label("engagement_id"),
                     open_items.c.owner_id.label("person_id"),
                     open_items.c.urgency.label("urgency"), open_items.c.detail.label("text"),
                     open_items.c.due_at.label("at"))
              .order_by(case((open_items.c.urgency == Urgency.URGENT.value, 0), else_=1),
                        open_items.c.due_at, open_items.c.id)
              .limit(LIST_LIMIT).subquery())
    cutoff = end - dt.timedelta(hours=scheme.limits.feedback_due_hours, days=NUDGE_AGAIN_DAYS)
    overdue = (select(literal("overdue"), Engagement.id, Engagement.id,
                      Engagement.ambassador_id, literal(""), Engagement.place,
                      Engagement.starts_at, func.count().over().label("total"))
               .select_from(Engagement)
               .outerjoin(Feedback, Feedback.engagement_id == Engagement.id)
               .where(Engagement.starts_at >= end - dt.timedelta(days=OVERDUE_LOOKBACK_DAYS),
                      Engagement.starts_at < cutoff, Engagement.ends_at <= cutoff,
                      Engagement.status != EngagementStatus.CANCELLED.value,
                      Feedback.id.is_(None))
               .order_by(Engagement.starts_at).limit(LIST_LIMIT).subquery())
    upcoming = (select(literal("next"), Engagement.id, Engagement.id, Engagement.ambassador_id,
                       literal(""), Engagement.place, Engagement.starts_at,
                       func.count().over().label("total"))
                .where(Engagement.starts_at >= end, Engagement.starts_at < w.next_end,
                       Engagement.status == EngagementStatus.PLANNED.value)
                .order_by(Engagement.starts_at).limit(LIST_LIMIT).subquery())
    picked = union_all(select(urgent, literal(0)), select(overdue),
                       select(upcoming)).subquery()
    c = picked.c
    rows = (await conn.execute(
        select(c.kind, c.id, c.urgency, c.text, c.at, c[7], Engagement.title, Area.name,
               Person.name, Engagement.ends_at)
        .join(Engagement, Engagement.id == c.engagement_id)
        .join(Area, Area.id == Engagement.area_id)
        .outerjoin(Person, Person.id == c.person_id))).all()
    for kind, row_id, urgency_, text, at, total, title, area, person, ends_at in rows:
        if kind == "urgent":
            digest.urgent.append(UrgentItem(follow_up_id=row_id, urgency=urgency_, title=title,
                                            area=area, detail=text, owner=person,
                                            status="open", due_at=_aware(at)))
            continue
        line = EngagementLine(engagement_id=row_id, title=title, area=area,
                              ambassador=person or "", starts_at=_aware(at),
                              ends_at=_aware(ends_at), place=text)
        if kind == "overdue":
            digest.feedback_overdue.append(line)
            digest.feedback_overdue_count = int(total)
        else:
            digest.next_week.append(line)
            digest.next_week_count = int(total)
    digest.urgent.sort(key=lambda i: (i.urgency != Urgency.URGENT.value, i.due_at,
                                      i.follow_up_id))
    digest.feedback_overdue.sort(key=lambda e: (e.starts_at, e.engagement_id))
    digest.next_week.sort(key=lambda e: (e.starts_at, e.engagement_id))


def _aware(value: dt.datetime | str) -> dt.datetime:
    # Out of a UNION the column's type is not applied on SQLite: there, times come back as
    # the text they are stored as (UTC); PostgreSQL gives aware datetimes.
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


async def _hours(conn: Any, digest: Digest, monday: dt.date) -> None:
    """Hours logged this week and this month (the month the week ends in) per ambassador."""
    sunday = monday + dt.timedelta(days=6)
    month_start = sunday.replace(day=1)
    digest.month_start = month_start
    since = min(month_start, monday)
    active = select(Person.id).where(Person.active.is_(True))
    logged = (select(HoursEntry.person_id.label("person_id"),
                     func.sum(case((HoursEntry.worked_on >= monday, HoursEntry.minutes),
                                   else_=0)).label("week"),
                     func.sum(case((HoursEntry.worked_on >= month_start, HoursEntry.minutes),
                                   else_=0)).label("month"))
              .where(HoursEntry.person_id.in_(active), HoursEntry.worked_on >= since,
                     HoursEntry.worked_on <= sunday)
              .group_by(HoursEntry.person_id).subquery())
    rows = (await conn.execute(
        select(Person.id, Person.name, Person.roles, Person.monthly_hours, Area.name,
               func.coalesce(logged.c.week, 0), func.coalesce(logged.c.month, 0))
        .select_from(Person)
        .outerjoin(Area, Area.id == Person.area_id)
        .outerjoin(logged, logged.c.person_id == Person.id)
        .where(Person.active.is_(True)))).all()
    digest.hours = sorted(
        (HoursLine(person_id=pid, name=name, area=area, week_minutes=int(week),
                   commitment_minutes=hours * 60, month_minutes=int(month))
         for pid, name, roles, hours, area, week, month in rows
         if Role.AMBASSADOR.value in (roles or [])),
        key=lambda h: (h.area or "", h.name))


# ---- plain text ----------------------------------------------------------------------------


def _was(now: int, before: int) -> str:
    return f"{now} ({before})"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _more(shown: int, total: int) -> list[str]:
    return [f"  …and {total - shown:,} more"] if total > shown else []


def _sections(d: Digest) -> list[tuple[str, list[str]]]:
    """The digest as (heading, lines) pairs; shared by the text and Block Kit renderers."""
    tz = d.timezone
    sections: list[tuple[str, list[str]]] = []
    held, planned, cancelled = d.total("held"), d.total("planned"), d.total("cancelled")
    lines = [f"{_was(held, d.total('prev_held'))} held, "
             f"{_was(planned, d.total('prev_planned'))} planned but not yet reported, "
             f"{_was(cancelled, d.total('prev_cancelled'))} cancelled."]
    for a in d.areas:
        lines.append(f"  {a.area}: {_was(a.held, a.prev_held)} held, "
                     f"{_was(a.planned, a.prev_planned)} planned, "
                     f"{_was(a.cancelled, a.prev_cancelled)} cancelled; "
                     f"{_was(a.reached, a.prev_reached)} people reached")
    sections.append(("Engagements by area", lines))
    sections.append(("People reached", [
        f"{_was(d.total('reached'), d.total('prev_reached'))} people at "
        f"{_plural(d.feedback_filed, 'engagement')} with feedback "
        f"({d.prev_feedback_filed} the week before)."]))
    lines = ([", ".join(f"{g} {n}" for g, n in d.groups_met)] if d.groups_met
             else ["No demographic groups were recorded this week."])
    if d.groups_not_reached:
        lines.append(f"Not reached in the last {NOT_REACHED_WEEKS} weeks:")
        lines += [f"  {area}: {', '.join(groups)}"
                  for area, groups in d.groups_not_reached.items()]
    sections.append(("Demographic groups met", lines))
    sections.append(("Topics raised", [", ".join(f"{t} {_was(a, b)}" for t, a, b in d.topics)]
                     if d.topics else ["No topics were recorded this week."]))
    lines = [f"Recorded at {_was(d.outcomes, d.prev_outcomes)} engagements."]
    lines += [f"  “{e.text}” ({e.area}, {format_date(e.day)})" for e in d.excerpts]
    sections.append(("Outcomes", lines))
    sections.append(("Follow-ups", [
        f"{_was(d.follow_ups_new, d.prev_follow_ups_new)} new, {d.follow_ups_open} open, "
        f"{d.follow_ups_overdue} overdue."]))
    if d.catch_ups is not None:
        sections.append(("Catch-ups", _catch_up_lines(d.catch_ups)))
    # Urgent items first: what needs someone today comes before the week's figures.
    sections.insert(0, ("Urgent this week", _urgent_lines(d)))
    stages = "; ".join(f"{s.count} {STAGE_WORDS[GrantStatus(s.status)]} "
                       f"({format_money(s.pence)})" for s in d.grant_stages)
    count, pence = d.grants_approved
    sections.append(("Grants", [
        (f"In the pipeline: {stages}." if stages else "Nothing in the pipeline."),
        f"Decided this week: {count} approved ({format_money(pence)}), "
        f"{d.grants_rejected} not approved.",
        f"Fund remaining{f' ({period_label(*d.fund_period)})' if d.fund_period else ''}: "
        f"{format_money(d.fund_remaining_pence)} of {format_money(d.fund_size_pence)}."]))
    if d.hours:
        month = d.month_start.strftime("%B") if d.month_start else "this month"
        lines = [f"{h.name}{f' ({h.area})' if h.area else ''}: "
                 f"{format_hours(h.month_minutes) if h.month_minutes else '0h'} of "
                 f"{format_hours(h.commitment_minutes) if h.commitment_minutes else '0h'} in "
                 f"{month} so far; "
                 f"{format_hours(h.week_minutes) if h.week_minutes else 'none'} this week"
                 for h in d.hours]
        sections.append(("Hours against commitment", lines))
    lines = [f"{_plural(d.feedback_overdue_count, 'engagement')} without feedback after two "
             "reminders."]
    lines += [f"  {e.title} ({e.area}) — {e.ambassador}, {format_when(e.starts_at, tz)}"
              for e in d.feedback_overdue]
    lines += _more(len(d.feedback_overdue), d.feedback_overdue_count)
    sections.append(("Feedback overdue", lines))
    lines = ([f"{_plural(d.next_week_count, 'engagement')} planned."] if d.next_week_count
             else ["Nothing planned yet."])
    lines += [f"  {format_when(e.starts_at, tz)} — {e.title}, {e.place} ({e.area}) — "
              f"{e.ambassador}" for e in d.next_week]
    lines += _more(len(d.next_week), d.next_week_count)
    sections.append(("Next week", lines))
    sections.append(("Photos and video", [
        f"{_was(d.media_received, d.prev_media_received)} received: {d.media_approved} "
        f"approved for use, {d.media_pending} waiting for review."]))
    return sections


CATCH_UP_QUOTE = 200        # characters of each thing raised the digest quotes


def _catch_up_lines(week: WeekOfCatchUps) -> list[str]:
    """Who answered the week's catch-up, who has not for two weeks running, what was raised
    (and whether the office has made it a follow-up)."""
    lines = [f"Answered: {', '.join(week.answered)}." if week.answered
             else "Nobody answered this week's catch-up question."]
    if week.missed_twice:
        lines.append(f"No answer two weeks running: {', '.join(week.missed_twice)}.")
    if week.raised:
        lines.append("Raised:")
    for name, text, follow_up_id in week.raised:
        quoted = " ".join(text.split())
        if len(quoted) > CATCH_UP_QUOTE:
            quoted = quoted[:CATCH_UP_QUOTE - 1].rstrip() + "…"
        taken = f" (follow-up #{follow_up_id})" if follow_up_id else ""
        lines.append(f"  {name}: “{quoted}”{taken}")
    return lines


def _urgent_lines(d: Digest) -> list[str]:
    """Urgent and attention follow-ups still open at the week's end, urgent first."""
    if not d.urgent_count:
        return ["Nothing urgent is waiting."]
    lines = [f"{_plural(d.urgent_count, 'item')} waiting for someone."]
    for item in d.urgent:
        lines.append(f"  {item.urgency.upper()}: {item.title} ({item.area}) — {item.detail} — "
                     f"{'held by ' + item.owner if item.owner else 'nobody has taken it yet'}"
                     f", due {format_when(item.due_at, d.timezone)}")
    return lines + _more(len(d.urgent), d.urgent_count)


def _title(d: Digest) -> str:
    return (f"Weekly digest: {format_date(d.week_start)} to {format_date(d.week_end)}")


def _quiet_line(d: Digest) -> str:
    return (f"Nothing was recorded this week: no engagements, feedback, follow-ups, photos or "
            f"grant decisions between {format_date(d.week_start)} and "
            f"{format_date(d.week_end)}.")


def _quiet_sections(d: Digest) -> list[tuple[str, list[str]]]:
    """A quiet week: say so, then only what still stands (open items, fund, next week)."""
    keep = {"Urgent this week", "Follow-ups", "Catch-ups", "Grants", "Feedback overdue",
            "Next week"}
    return [(h, lines) for h, lines in _sections(d) if h in keep]


def digest_text(d: Digest) -> str:
    """The digest as plain text (figures for the week before in brackets)."""
    out = [f"{_title(d)} — {d.scheme_name}", ""]
    if d.is_quiet:
        out += [_quiet_line(d), ""]
        sections = _quiet_sections(d)
    else:
        out += ["Figures for the week before are in brackets.", ""]
        sections = _sections(d)
    for heading, lines in sections:
        out.append(f"{heading}:")
        out += [f"  {line}" for line in lines]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def digest_html(d: Digest) -> str:
    """The digest as a simple HTML e-mail body (the plain text travels beside it)."""
    from html import escape
    out = [f"<h1>{escape(_title(d))}</h1>", f"<p>{escape(d.scheme_name)} · {d.iso_week}"
           + ("" if d.is_quiet else " · the week before in brackets") + "</p>"]
    if d.is_quiet:
        out.append(f"<p>{escape(_quiet_line(d))}</p>")
    for heading, lines in (_quiet_sections(d) if d.is_quiet else _sections(d)):
        out.append(f"<h2>{escape(heading)}</h2>")
        top = [escape(line) for line in lines if not line.startswith("  ")]
        items = [escape(line.strip()) for line in lines if line.startswith("  ")]
        out += [f"<p>{line}</p>" for line in top]
        if items:
            out.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
    return "\n".join(out)


# ---- Slack Block Kit -----------------------------------------------------------------------


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters; everything else is shown as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _chunks(heading: str, lines: list[str], limit: int) -> list[str]:
    """Section texts of at most `limit` characters, splitting between lines."""
    texts: list[str] = []
    current = f"*{mrkdwn_escape(heading)}*"
    for line in lines:
        piece = mrkdwn_escape(line.strip() if not line.startswith("  ") else "• " + line.strip())
        if len(piece) > limit - 20:
            piece = piece[:limit - 21] + "…"
        if len(current) + 1 + len(piece) > limit:
            texts.append(current)
            current = piece
        else:
            current += "\n" + piece
    texts.append(current)
    return texts


def digest_blocks(d: Digest) -> list[dict[str, Any]]:
    """Block Kit: a header, the week, one section per part; ≤ 50 blocks, ≤ 3,000 characters
    per section (Slack's limits), cutting the last sections short if it ever had to."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _title(d)[:150]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn_escape(
            f"{d.scheme_name} · {d.iso_week}" + ("" if d.is_quiet else
                                                 " · the week before in brackets"))}]}]
    if d.is_quiet:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": mrkdwn_escape(_quiet_line(d))}})
    for heading, lines in (_quiet_sections(d) if d.is_quiet else _sections(d)):
        texts = _chunks(heading, lines, SLACK_MAX_SECTION)
        if len(blocks) + len(texts) + 1 > SLACK_MAX_BLOCKS:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                           "The rest is in the full text of this message."}]})
            break
        blocks.append({"type": "divider"})
        blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": t}} for t in texts]
    return blocks[:SLACK_MAX_BLOCKS]


# ---- chart ---------------------------------------------------------------------------------


def digest_chart_figure(d: Digest) -> Any:
    """The chart as a matplotlib Figure (scheduler/digest_chart.py), for tests to measure."""
    from scheduler.digest_chart import chart_figure
    areas = d.areas
    return chart_figure(
        f"{d.scheme_name}: {format_date(d.week_start)} to {format_date(d.week_end)}",
        [a.area for a in areas],
        held=([a.held for a in areas], [a.prev_held for a in areas],
              [a.avg_held for a in areas]),
        reached=([a.reached for a in areas], [a.prev_reached for a in areas],
                 [a.avg_reached for a in areas]))


def digest_chart_png(d: Digest) -> bytes:
    """Held engagements and people reached by area: this week, the week before and the
    average week of the four before (PNG)."""
    from scheduler.digest_chart import chart_png
    return chart_png(digest_chart_figure(d))


# ---- posting -------------------------------------------------------------------------------


DIGEST_EVENT = "weekly_digest"


def digest_mark(week_start: dt.date) -> str:
    year, week, _ = week_start.isocalendar()
    return f"weekly_digest:{year}-W{week:02d}"


async def post_digest(db: Database, scheme: Scheme, week: dt.date | None = None,
                      dry_run: bool = False, *, now: dt.datetime | None = None,
                      chart_dir: Path | None = None, once: bool = False,
                      chart_out: Path | None = None) -> str:
    """Post a week's digest (default: the last complete week) to the digest channel and to
    each Commissioner by DM; returns the text. `dry_run` writes nothing and returns the text.

    `once` (the scheduled job) posts a week's digest only the first time it is asked; "digest
    now" from a person posts whenever asked. The chart is written under `chart_dir` and its
    path travels in the payload (`chart_path`), with the Block Kit (`blocks`). `chart_out`
    also writes the chart there (a dry run included).
    """
    now = now or utcnow()
    monday = monday_of(week) if week else last_complete_week(now, scheme.tz)
    async with db.transaction() as session:
        digest = await build_digest(session, scheme, monday)
    text = digest_text(digest)
    if chart_out is not None:
        chart_out.parent.mkdir(parents=True, exist_ok=True)
        chart_out.write_bytes(digest_chart_png(digest))
    if dry_run:
        return text
    chart_path: str | None = None
    try:
        png = digest_chart_png(digest)
        directory = chart_dir or Path("media") / "charts"
        directory.mkdir(parents=True, exist_ok=True)
        file = directory / f"digest-{digest.iso_week}.png"
        file.write_bytes(png)
        chart_path = str(file)
    except OSError as error:  # the digest still goes out without its chart
        log.warning("digest chart not written: %s", error)
    data = {"week": digest.iso_week, "blocks": digest_blocks(digest), "chart_path": chart_path}
    async with db.transaction() as session:
        if once and not await claim_mark(session, digest_mark(monday), now=now):
            log.info("digest for %s was already posted", digest.iso_week)
            return text
        outbox.to_channel(session, scheme, "digest", DIGEST_EVENT, text, data=data)
        for commissioner in await active_people_with_role(session, Role.COMMISSIONER):
            outbox.to_person(session, commissioner, DIGEST_EVENT, text, data=data)
        chart = ([{"path": chart_path, "filename": Path(chart_path).name}] if chart_path
                 else [])
        for address in scheme.email.digest:
            outbox.to_email(session, address, DIGEST_EVENT, _title(digest), text,
                            html=digest_html(digest), attachments=chart)
    return text
