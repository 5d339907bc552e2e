"""The alert of an urgent or attention follow-up, as one whole: what, where, who reported it,
the summary and the due date, then every step taken on it (acknowledged, assigned, escalated,
done) with who acted and when.

Every operation that rewrites the alert post builds its payload here, from the records as
they are now plus every step the audit trail holds, so a rewrite can only add a line: an
officer who opens the alert after three presses still sees what it was about.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.models import (Area, AuditEvent, CatchUp, Engagement, Feedback, FollowUp, Outbox,
                            Person)
from storage.scheme import Scheme

ALERT_EVENT = "follow_up_alert"
ALERT_STEP = "alert_step"          # the key of an audit row's `after` holding the step's line
UPDATED_EVENT = "follow_up_updated"


def alert_ref(follow_up_id: int) -> str:
    return f"follow_up:{follow_up_id}:alert"


async def steps_taken(session: AsyncSession, follow_up_id: int) -> list[str]:
    """Every step taken on the follow-up, oldest first, from the audit rows that recorded
    them: kept as long as the audit trail, so an alert acted on after the delivered messages
    have lost their data still lists all it went through."""
    afters = (await session.scalars(
        select(AuditEvent.after).where(AuditEvent.target_type == "follow_ups",
                                       AuditEvent.target_id == follow_up_id,
                                       AuditEvent.outcome == "done")
        .order_by(AuditEvent.id))).all()
    return [str(after[ALERT_STEP]) for after in afters
            if isinstance(after, dict) and after.get(ALERT_STEP)]


async def alert_payload(session: AsyncSession, follow_up: FollowUp) -> dict[str, Any]:
    """What the alert shows, without its steps: the report it came from and the follow-up."""
    data: dict[str, Any] = {}
    engagement = (await session.get(Engagement, follow_up.engagement_id)
                  if follow_up.engagement_id is not None else None)
    feedback = (await session.get(Feedback, follow_up.feedback_id)
                if follow_up.feedback_id is not None else None)
    if engagement is not None:
        data.update({"engagement_id": engagement.id, "title": engagement.title,
                     "area": await _area_name(session, engagement.area_id),
                     "place": engagement.place,
                     "starts_at": engagement.starts_at.isoformat()})
    if feedback is not None:
        reporter = await session.get(Person, feedback.ambassador_id)
        data.update({"feedback_id": feedback.id, "summary": feedback.summary,
                     "ambassador": reporter.name if reporter else ""})
    catch_up = (await session.scalar(select(CatchUp).where(CatchUp.follow_up_id == follow_up.id))
                if feedback is None else None)
    if catch_up is not None:
        # Made from a catch-up answer: its card is the answer's post, so it says whose.
        raiser = await session.get(Person, catch_up.person_id)
        data.update({"catch_up_id": catch_up.id, "title": f"Catch-up, week {catch_up.week}",
                     "ambassador": raiser.name if raiser else "",
                     "area": await _area_name(session, raiser.area_id if raiser else None)})
    owner = (await session.get(Person, follow_up.owner_id)
             if follow_up.owner_id is not None else None)
    data.update({"follow_up_id": follow_up.id, "status": follow_up.status,
                 "urgency": follow_up.urgency, "follow_up_needed": follow_up.needed_by,
                 "follow_up_detail": follow_up.detail, "due_at": follow_up.due_at.isoformat(),
                 "owner_id": follow_up.owner_id, "owner": owner.name if owner else None})
    return data


async def _area_name(session: AsyncSession, area_id: int | None) -> str:
    area = await session.get(Area, area_id) if area_id is not None else None
    return area.name if area else ""


def headline(data: dict[str, Any]) -> str:
    """The alert's plain-text line (notifications and screen readers read this)."""
    where = ", ".join(part for part in (data.get("area"),) if part)
    reporter = f" reported by {data['ambassador']}" if data.get("ambassador") else ""
    return (f"{str(data.get('urgency', '')).upper()}: {data.get('title') or 'Follow-up'}"
            f"{f' ({where})' if where else ''}{reporter} — {data.get('follow_up_detail', '')}")


async def queue_alert_step(session: AsyncSession, scheme: Scheme, follow_up: FollowUp,
                           step: str, *, by: str, at: str) -> Outbox:
    """Rewrite the alert with `step` (already audited under ALERT_STEP) added to the steps
    before it."""
    data = await alert_payload(session, follow_up)
    steps = await steps_taken(session, follow_up.id)
    if not steps or steps[-1] != step:
        steps.append(step)
    text = f"{headline(data)} · {step}"
    return outbox.to_channel(session, scheme, "alerts", UPDATED_EVENT, text,
                             data={**data, "steps": steps, "line": step, "by": by, "at": at},
                             replaces_ref=alert_ref(follow_up.id))
