"""Feedback on an engagement: one per engagement, by its ambassador; follow-ups and escalation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit, snapshot
from storage.errors import Conflict, InvalidInput
from storage.models import (Engagement, EngagementStatus, Feedback, FeedbackGroup,
                            FeedbackTopic, FollowUp, FollowUpNeeded, Person, Urgency, utcnow)
from storage.operations import escalation
from storage.operations.engagements import get_own_engagement
from storage.parsers import format_when
from storage.operations.hours import record_engagement_hours
from storage.permissions import Action
from storage.scheme import Scheme

# How soon a follow-up is due, by urgency; routine ones take the scheme's follow_up_due_days.
DUE_BY_URGENCY = {Urgency.URGENT: dt.timedelta(days=1), Urgency.ATTENTION: dt.timedelta(days=3)}
NEEDED_BY_LABEL = {FollowUpNeeded.NONE: "no follow-up", FollowUpNeeded.OFFICE: "the office",
                   FollowUpNeeded.COMMISSIONER: "the Commissioner",
                   FollowUpNeeded.POLICE_OR_PARTNER: "police or a partner"}


def _pick(values: Sequence[str], allowed: Sequence[str], what: str) -> list[str]:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise InvalidInput(f"{unknown[0]!r} is not one of the scheme's {what}.", field=what)
    return sorted(set(values), key=list(allowed).index)


def _text(value: str | None, what: str, limit: int, *, required: bool) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise InvalidInput(f"Please write the {what}.", field=what)
        return None
    if len(value) > limit:
        raise InvalidInput(f"The {what} can be up to {limit:,} characters; yours has "
                           f"{len(value):,}. Please shorten it.", field=what)
    return value


def feedback_post_ref(feedback_id: int) -> str:
    """The feedback's post in the engagements channel, rewritten when an excerpt is published."""
    return f"feedback:{feedback_id}:engagements"


def post_data(feedback: Feedback, engagement: Engagement, ambassador: str) -> dict[str, Any]:
    """What the engagements channel's feedback post shows, from the records as they are (the
    post is rewritten from the same data once an outcome excerpt is published)."""
    return {"feedback_id": feedback.id, "engagement_id": engagement.id,
            "area": engagement.area.name, "ambassador": ambassador, "title": engagement.title,
            "starts_at": engagement.starts_at.isoformat(), "attendees": feedback.attendees,
            "groups": [g.name for g in feedback.groups],
            "topics": [t.name for t in feedback.topics], "summary": feedback.summary,
            "outcomes": feedback.outcomes, "follow_up_needed": feedback.follow_up_needed,
            "follow_up_detail": feedback.follow_up_detail, "urgency": feedback.urgency}


async def do_file_feedback(
        session: AsyncSession, scheme: Scheme, *, engagement_id: int, attendees: int,
        summary: str, groups: Sequence[str] = (), topics: Sequence[str] = (),
        outcomes: str | None = None, follow_up_needed: str = "none",
        follow_up_detail: str | None = None, urgency: str = "routine",
        minutes_spent: int | None = None, actor: Person,
        now: dt.datetime | None = None) -> Feedback:
    """File the written feedback the scheme requires for every engagement (DESIGN §1).

    Rules: only the engagement's ambassador; one feedback per engagement; not for a cancelled
    or future engagement; a follow-up needs a detail; attention or urgent items are escalated
    to the alerts channel at once.
    """
    now = now or utcnow()
    engagement = await get_own_engagement(session, engagement_id, actor, Action.OWN_RECORDS)
    if engagement.status == EngagementStatus.CANCELLED:
        raise Conflict("That engagement was cancelled, so it has no feedback to file.")
    if engagement.starts_at > now:
        raise InvalidInput("That engagement hasn't happened yet; file feedback once it has.")
    if await session.scalar(select(Feedback.id).where(Feedback.engagement_id == engagement_id)):
        raise Conflict("Feedback for that engagement has already been filed. Use /mine to "
                       "see it.")
    if not 0 <= attendees <= 100_000:
        raise InvalidInput("Please give the number of people as a number from 0 to 100,000.",
                           field="attendees")
    if minutes_spent is not None and not 0 < minutes_spent <= 24 * 60:
        raise InvalidInput("Time spent must be between a minute and 24 hours.",
                           field="minutes_spent")
    try:
        needed = FollowUpNeeded(follow_up_needed)
        level = Urgency(urgency)
    except ValueError:
        raise InvalidInput("Please choose the follow-up and urgency from the buttons.") from None
    limit = scheme.limits.max_text_chars
    summary_text = _text(summary, "summary", limit, required=True)
    outcomes_text = _text(outcomes, "outcomes", limit, required=False)
    detail = _text(follow_up_detail, "follow-up detail", limit,
                   required=needed is not FollowUpNeeded.NONE)
    if needed is FollowUpNeeded.NONE and level is not Urgency.ROUTINE:
        raise InvalidInput("An urgent or attention item needs a follow-up: say who should act "
                           "and what is needed.", field="follow_up_needed")

    feedback = Feedback(
        engagement_id=engagement.id, ambassador_id=actor.id, attendees=attendees,
        summary=summary_text, outcomes=outcomes_text, follow_up_needed=needed.value,
        follow_up_detail=detail, urgency=level.value, minutes_spent=minutes_spent,
        submitted_at=now,
        groups=[FeedbackGroup(name=g) for g in _pick(groups, scheme.demographic_groups,
                                                     "demographic groups")],
        topics=[FeedbackTopic(name=t) for t in _pick(topics, scheme.topics, "topics")])
    session.add(feedback)
    if engagement.status == EngagementStatus.PLANNED:
        engagement.status = EngagementStatus.HELD.value
    await session.flush()
    if minutes_spent:
        # Counted towards the month's hours once, as the engagement's own hours entry.
        await record_engagement_hours(session, engagement, minutes_spent, actor=actor,
                                      tz=scheme.timezone)
    audit(session, actor, "file_feedback", target=feedback,
          after=snapshot(feedback, "engagement_id", "attendees", "follow_up_needed", "urgency"))

    area = engagement.area.name
    when = format_when(engagement.starts_at, scheme.timezone)
    data = post_data(feedback, engagement, actor.name)
    outbox.to_channel(session, scheme, "engagements", "feedback_filed",
                      f"Feedback from {actor.name}: {engagement.title} ({area}, {when}), "
                      f"{attendees} people. Follow-up: {NEEDED_BY_LABEL[needed]}.",
                      data=data, ref=feedback_post_ref(feedback.id))
    if needed is not FollowUpNeeded.NONE:
        due = now + DUE_BY_URGENCY.get(level, dt.timedelta(days=scheme.limits.follow_up_due_days))
        follow_up = FollowUp(feedback_id=feedback.id, engagement_id=engagement.id,
                             needed_by=needed.value, urgency=level.value, detail=detail or "",
                             due_at=due, created_at=now)
        session.add(follow_up)
        await session.flush()
        audit(session, actor, "open_follow_up", target=follow_up,
              after=snapshot(follow_up, "needed_by", "urgency", "due_at"))
        if level is not Urgency.ROUTINE:
            # Urgent and for the Commissioner: to the Commissioner and the deputy directly too.
            steps = await escalation.send_at_once(session, scheme, follow_up, now=now)
            outbox.to_channel(
                session, scheme, "alerts", "follow_up_alert",
                f"{level.value.upper()}: {engagement.title} ({area}, {when}) reported by "
                f"{actor.name}. Needs {NEEDED_BY_LABEL[needed]}: {detail}",
                data={**data, "follow_up_id": follow_up.id, "status": follow_up.status,
                      "due_at": due.isoformat(), "steps": steps},
                ref=f"follow_up:{follow_up.id}:alert")
    return feedback
