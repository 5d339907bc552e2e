"""What an ambassador sees of their own records (/mine, App Home)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Engagement, Feedback, GrantRecommendation, Person, utcnow
from storage.operations.engagements import engagements_awaiting_feedback
from storage.operations.hours import minutes_in_month
from storage.permissions import Action, require


@dataclass
class MyRecords:
    upcoming: list[Engagement]
    feedback_due: list[Engagement]
    recent_feedback: list[tuple[Engagement, Feedback]]
    grants: list[GrantRecommendation]
    minutes_this_month: int
    monthly_hours: int


async def my_records(session: AsyncSession, actor: Person, *,
                     now: dt.datetime | None = None, tz: str = "Europe/London") -> MyRecords:
    require(actor, Action.OWN_RECORDS, target_type="people", target_id=actor.id)
    now = now or utcnow()
    upcoming = (await session.scalars(
        select(Engagement).where(Engagement.ambassador_id == actor.id,
                                 Engagement.starts_at > now, Engagement.status == "planned")
        .order_by(Engagement.starts_at).limit(10))).all()
    recent = (await session.execute(
        select(Engagement, Feedback).join(Feedback, Feedback.engagement_id == Engagement.id)
        .where(Engagement.ambassador_id == actor.id)
        .order_by(Feedback.submitted_at.desc()).limit(5))).all()
    grants = (await session.scalars(
        select(GrantRecommendation).where(GrantRecommendation.ambassador_id == actor.id)
        .order_by(GrantRecommendation.created_at.desc()).limit(10))).all()
    local = now.astimezone(ZoneInfo(tz))
    minutes = await minutes_in_month(session, actor.id, local.year, local.month)
    return MyRecords(upcoming=list(upcoming),
                     feedback_due=await engagements_awaiting_feedback(session, actor, now=now),
                     recent_feedback=[(e, f) for e, f in recent], grants=list(grants),
                     minutes_this_month=minutes, monthly_hours=actor.monthly_hours)
