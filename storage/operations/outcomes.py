"""Outcome excerpts for publication: the office words an engagement's outcome as it may be
published (no member of the public named) and marks it publishable. Reports to the panel and
the digest quote only these excerpts, never the ambassador's unreviewed text.

Approving words for publication is the same judgement as approving a photo for use, so it
belongs to the same people (officers and the deputy: `Action.REVIEW_MEDIA`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import audit
from storage.errors import InvalidInput, NotFound
from storage.models import Feedback, Person, utcnow
from storage.permissions import Action, require

EXCERPT_MAX = 500


async def do_publish_outcome(session: AsyncSession, *, feedback_id: int, excerpt: str | None,
                             actor: Person, now: dt.datetime | None = None) -> Feedback:
    """Mark an outcome publishable in the office's words; an empty excerpt withdraws it."""
    require(actor, Action.REVIEW_MEDIA, target_type="feedback", target_id=feedback_id)
    feedback = await session.get(Feedback, feedback_id)
    if feedback is None:
        raise NotFound("That feedback no longer exists.")
    text = " ".join((excerpt or "").split())
    if len(text) > EXCERPT_MAX:
        raise InvalidInput(f"A published excerpt can be at most {EXCERPT_MAX} characters; "
                           f"this one has {len(text):,}.")
    before = {"public_outcome": feedback.public_outcome}
    feedback.public_outcome = text or None
    feedback.public_outcome_by_id = actor.id if text else None
    feedback.public_outcome_at = (now or utcnow()) if text else None
    audit(session, actor, "publish_outcome" if text else "withdraw_outcome", target=feedback,
          before=before, after={"public_outcome": feedback.public_outcome})
    return feedback
