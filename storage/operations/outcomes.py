"""Outcome excerpts for publication: the office words an engagement's outcome as it may be
published (no member of the public named) and marks it publishable. Reports to the panel and
the digest quote only these excerpts, never the ambassador's unreviewed text.

Approving words for publication is the same judgement as approving a photo for use, so it
belongs to the same people (officers and the deputy: `Action.REVIEW_MEDIA`). The feedback's
post in the engagements channel is rewritten in the same transaction to say who approved (or
withdrew) the excerpt, so the office sees what will be published.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit
from storage.errors import InvalidInput, NotFound
from storage.models import Engagement, Feedback, Person, utcnow
from storage.operations.feedback import feedback_post_ref, post_data
from storage.parsers import clean_text
from storage.permissions import Action, require
from storage.scheme import Scheme

EXCERPT_MAX = 500


async def excerpt_draft(session: AsyncSession, *, feedback_id: int) -> str:
    """What the office starts from when wording an excerpt: the one already published, else
    the ambassador's outcomes (to be edited before anything is published)."""
    feedback = await session.get(Feedback, feedback_id)
    if feedback is None:
        raise NotFound("That feedback no longer exists.")
    return feedback.public_outcome or feedback.outcomes or ""


async def do_publish_outcome(session: AsyncSession, scheme: Scheme, *, feedback_id: int,
                             excerpt: str | None, actor: Person,
                             now: dt.datetime | None = None) -> Feedback:
    """Mark an outcome publishable in the office's words; an empty excerpt withdraws it."""
    require(actor, Action.REVIEW_MEDIA, target_type="feedback", target_id=feedback_id)
    feedback = await session.get(Feedback, feedback_id)
    if feedback is None:
        raise NotFound("That feedback no longer exists.")
    text = " ".join(clean_text(excerpt).split())
    if len(text) > EXCERPT_MAX:
        raise InvalidInput(f"A published excerpt can be at most {EXCERPT_MAX} characters; "
                           f"this one has {len(text):,}.", field="excerpt")
    if not text and feedback.public_outcome is None:
        raise InvalidInput("Please write the excerpt to publish; nothing from this feedback "
                           "is published yet, so there is nothing to withdraw.",
                           field="excerpt")
    before = {"public_outcome": feedback.public_outcome}
    feedback.public_outcome = text or None
    feedback.public_outcome_by_id = actor.id if text else None
    feedback.public_outcome_at = (now or utcnow()) if text else None
    audit(session, actor, "publish_outcome" if text else "withdraw_outcome", target=feedback,
          before=before, after={"public_outcome": feedback.public_outcome})
    await _rewrite_post(session, scheme, feedback, actor)
    return feedback


async def _rewrite_post(session: AsyncSession, scheme: Scheme, feedback: Feedback,
                        actor: Person) -> None:
    engagement = await session.get(Engagement, feedback.engagement_id)
    ambassador = await session.get(Person, feedback.ambassador_id)
    if engagement is None or ambassador is None:
        return
    published = feedback.public_outcome is not None
    line = (f"Excerpt approved for publication by {actor.name}" if published
            else f"Excerpt withdrawn from publication by {actor.name}")
    data = {**post_data(feedback, engagement, ambassador.name),
            "public_outcome": feedback.public_outcome, "public_outcome_line": line}
    outbox.to_channel(session, scheme, "engagements", "feedback_filed",
                      f"Feedback from {ambassador.name}: {engagement.title}. {line}.",
                      data=data, replaces_ref=feedback_post_ref(feedback.id))
