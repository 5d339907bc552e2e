"""The deputy's oversight (issue 19; the DPCC "oversees the work of the Commissioner's
Ambassadors"): per ambassador, their last engagement, feedback overdue, hours this month
against their commitment, open follow-ups from their reports and actions they own, and whether
they have answered this week's catch-up. One read, used by App Home and `/ambassadors team`
alike, so the two cannot disagree; who may see it is the role matrix's OVERSEE.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (Area, CatchUp, Engagement, EngagementStatus, Feedback, FollowUp,
                            FollowUpStatus, HoursEntry, Person, Role, ScheduleMark, utcnow)
from storage.operations.catch_ups import asked_mark, iso_week_of
from storage.permissions import Action, require
from storage.scheme import Scheme

# Feedback overdue counts engagements of the last 60 days, as the office's own list does
# (storage/operations/office.py feedback_overdue): older ones are the digest's business.
OVERDUE_WINDOW = dt.timedelta(days=60)


@dataclass
class AmbassadorWork:
    person_id: int
    name: str
    area: str
    last_engagement: dt.datetime | None
    feedback_overdue: int
    minutes_this_month: int
    commitment_hours: int
    open_follow_ups: int         # from their reports, not yet done
    open_actions: int            # follow-ups they own (meeting actions), not yet done
    caught_up: bool              # answered this week's catch-up question
    asked: bool = True           # this week's question has gone to them (Wednesday's round)


@dataclass
class TeamOverview:
    month: dt.date               # the first of the month, in the scheme's zone
    week: str                    # ISO week of the catch-up
    ambassadors: list[AmbassadorWork]


def _grouped(rows: object) -> dict[int, object]:
    return {key: value for key, value in rows}  # type: ignore[attr-defined]


async def team_overview(session: AsyncSession, scheme: Scheme, *, actor: Person,
                        now: dt.datetime | None = None) -> TeamOverview:
    """Every active ambassador's figures (refused with the matrix's sentence unless `actor`
    may oversee)."""
    require(actor, Action.OVERSEE, target_type="people")
    now = now or utcnow()
    today = now.astimezone(scheme.tz).date()
    month = today.replace(day=1)
    after = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    week = iso_week_of(today)
    people = (await session.execute(
        select(Person.id, Person.name, Person.roles, Person.monthly_hours, Area.name)
        .outerjoin(Area, Area.id == Person.area_id)
        .where(Person.active.is_(True)).order_by(Person.name, Person.id))).all()
    team = [row for row in people if Role.AMBASSADOR.value in (row[2] or [])]
    ids = [row[0] for row in team]
    if not ids:
        return TeamOverview(month, week, [])
    held = Engagement.status != EngagementStatus.CANCELLED.value
    last = _grouped((await session.execute(
        select(Engagement.ambassador_id, func.max(Engagement.starts_at))
        .where(Engagement.ambassador_id.in_(ids), held, Engagement.starts_at <= now)
        .group_by(Engagement.ambassador_id))).all())
    overdue = _grouped((await session.execute(
        select(Engagement.ambassador_id, func.count(Engagement.id))
        .outerjoin(Feedback, Feedback.engagement_id == Engagement.id)
        .where(Engagement.ambassador_id.in_(ids), held, Feedback.id.is_(None),
               Engagement.ends_at <= now - dt.timedelta(hours=scheme.limits.feedback_due_hours),
               Engagement.starts_at >= now - OVERDUE_WINDOW)
        .group_by(Engagement.ambassador_id))).all())
    minutes = _grouped((await session.execute(
        select(HoursEntry.person_id, func.coalesce(func.sum(HoursEntry.minutes), 0))
        .where(HoursEntry.person_id.in_(ids), HoursEntry.worked_on >= month,
               HoursEntry.worked_on < after)
        .group_by(HoursEntry.person_id))).all())
    not_done = FollowUp.status != FollowUpStatus.DONE.value
    reported = _grouped((await session.execute(
        select(Feedback.ambassador_id, func.count(FollowUp.id))
        .join(Feedback, Feedback.id == FollowUp.feedback_id)
        .where(Feedback.ambassador_id.in_(ids), not_done)
        .group_by(Feedback.ambassador_id))).all())
    owned = _grouped((await session.execute(
        select(FollowUp.owner_id, func.count(FollowUp.id))
        .where(FollowUp.owner_id.in_(ids), not_done)
        .group_by(FollowUp.owner_id))).all())
    answered = set((await session.scalars(
        select(CatchUp.person_id).where(CatchUp.week == week, CatchUp.person_id.in_(ids))
        .group_by(CatchUp.person_id))).all())
    # Before the week's question goes out, "not answered" would be unfair: say not asked.
    asked_keys = set((await session.scalars(select(ScheduleMark.key).where(
        ScheduleMark.key.in_([asked_mark(week, pid) for pid in ids])))).all())
    return TeamOverview(month, week, [
        AmbassadorWork(
            person_id=pid, name=name, area=area or "", last_engagement=last.get(pid),
            feedback_overdue=int(overdue.get(pid, 0)), minutes_this_month=int(minutes.get(pid, 0)),
            commitment_hours=hours or scheme.limits.hours_per_month,
            open_follow_ups=int(reported.get(pid, 0)), open_actions=int(owned.get(pid, 0)),
            caught_up=pid in answered,
            asked=pid in answered or asked_mark(week, pid) in asked_keys)
        for pid, name, _roles, hours, area in team])
