"""The office's extracts (CSV/XLSX): engagements, feedback, grants, hours, expenses."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (Area, Engagement, ExpenseClaim, Feedback, GrantRecommendation,
                            HoursEntry, Person)
from storage.scheme import Scheme

EXTRACTS = ("engagements", "feedback", "grants", "hours", "expenses")


def _local(value: dt.datetime | None, scheme: Scheme) -> str:
    return value.astimezone(scheme.tz).strftime("%Y-%m-%d %H:%M") if value else ""


def _window(column: Any, start: dt.date | None, end: dt.date | None, scheme: Scheme,
            is_date: bool = False) -> list[Any]:
    clauses = []
    if start:
        clauses.append(column >= (start if is_date else dt.datetime.combine(
            start, dt.time(), scheme.tz)))
    if end:
        after = end + dt.timedelta(days=1)
        clauses.append(column < (after if is_date else dt.datetime.combine(
            after, dt.time(), scheme.tz)))
    return clauses


async def extract_rows(session: AsyncSession, scheme: Scheme, name: str, start: dt.date | None,
                       end: dt.date | None) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of one extract, times in the scheme's zone, money in pounds."""
    amb = aliased(Person)
    if name == "engagements":
        rows = await session.execute(
            select(Engagement, amb.name, Area.name).join(amb, amb.id == Engagement.ambassador_id)
            .join(Area, Area.id == Engagement.area_id)
            .where(*_window(Engagement.starts_at, start, end, scheme)).order_by(Engagement.id))
        return (["id", "ambassador", "area", "title", "kind", "place", "starts", "ends",
                 "expected_audience", "status", "notice_given"],
                [[e.id, a, ar, e.title, e.kind, e.place, _local(e.starts_at, scheme),
                  _local(e.ends_at, scheme), e.expected_audience, e.status,
                  _local(e.notice_given_at, scheme)] for e, a, ar in rows.all()])
    if name == "feedback":
        rows = await session.execute(
            select(Feedback, Engagement.title, amb.name).join(
                Engagement, Engagement.id == Feedback.engagement_id)
            .join(amb, amb.id == Feedback.ambassador_id)
            .where(*_window(Feedback.submitted_at, start, end, scheme)).order_by(Feedback.id))
        return (["id", "engagement", "ambassador", "attendees", "groups", "topics", "summary",
                 "outcomes", "follow_up_needed", "urgency", "submitted"],
                [[f.id, t, a, f.attendees, "; ".join(g.name for g in f.groups),
                  "; ".join(x.name for x in f.topics), f.summary, f.outcomes or "",
                  f.follow_up_needed, f.urgency, _local(f.submitted_at, scheme)]
                 for f, t, a in rows.all()])
    if name == "grants":
        rows = await session.scalars(
            select(GrantRecommendation)
            .where(*_window(GrantRecommendation.created_at, start, end, scheme))
            .order_by(GrantRecommendation.id))
        return (["id", "ambassador", "area", "applicant", "project", "amount_gbp", "objectives",
                 "status", "decided", "reason"],
                [[g.id, g.ambassador.name, g.area.name, g.applicant_organisation, g.project,
                  g.amount_pence / 100, "; ".join(o.name for o in g.objectives), g.status,
                  _local(g.decided_at, scheme), g.decision_reason or ""] for g in rows.all()])
    if name == "hours":
        rows = await session.execute(
            select(HoursEntry, amb.name).join(amb, amb.id == HoursEntry.person_id)
            .where(*_window(HoursEntry.worked_on, start, end, scheme, is_date=True))
            .order_by(HoursEntry.id))
        return (["id", "person", "worked_on", "hours", "description"],
                [[h.id, a, h.worked_on.isoformat(), round(h.minutes / 60, 2),
                  h.description or ""] for h, a in rows.all()])
    if name == "expenses":
        rows = await session.execute(
            select(ExpenseClaim, amb.name).join(amb, amb.id == ExpenseClaim.person_id)
            .where(*_window(ExpenseClaim.incurred_on, start, end, scheme, is_date=True))
            .order_by(ExpenseClaim.id))
        return (["id", "person", "kind", "amount_gbp", "miles", "incurred_on", "description",
                 "status"],
                [[c.id, a, c.kind, c.amount_pence / 100,
                  c.miles_tenths / 10 if c.miles_tenths else "", c.incurred_on.isoformat(),
                  c.description, c.status] for c, a in rows.all()])
    raise ValueError(f"unknown extract {name!r}")
