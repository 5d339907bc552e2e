"""The office marks an outcome excerpt publishable from the feedback's post: the button opens a
modal holding the ambassador's outcomes (or the excerpt already published), the officer takes
out any name of a member of the public and submits. Reports and the digest quote only these
words. The operation checks the role, audits, and queues the post's rewrite; its refusal is
shown on the field, a refusal to open the modal only to the person who clicked."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.slack.blocks import context as note
from handlers.slack.context import services, tell
from handlers.slack.listeners.actions import (allowed_to_open, submit_and_rewrite, target_id,
                                             where_clicked)
from handlers.slack.modals import modal, text_input
from handlers.slack.render import OUTCOME_PUBLISH
from storage.errors import Refused
from storage.models import Person
from storage.operations.feedback import feedback_post_ref
from storage.operations.outcomes import do_publish_outcome, excerpt_draft
from storage.permissions import Action

log = logging.getLogger(__name__)

OUTCOME_EXCERPT = "outcome_excerpt"
FIELD = "excerpt"
# Longer than an excerpt may be, so an over-long one reaches the operation and is refused
# with the limit in a sentence rather than silently cut by Slack.
INPUT_MAX = 3000


def excerpt_view(feedback_id: int, draft: str, where: dict[str, Any]) -> dict[str, Any]:
    meta = json.dumps({"feedback_id": feedback_id, **where})
    return modal("Publishable excerpt", [
        text_input(FIELD, "The outcome as it may be published", multiline=True,
                   max_length=INPUT_MAX, optional=True, initial=draft,
                   hint="Take out the name of any member of the public. Leave it empty to "
                        "withdraw an excerpt already published."),
        note(f"Feedback #{feedback_id} · reports to the panel quote these words only"),
    ], callback_id=OUTCOME_EXCERPT, submit="Publish", close="Cancel", private_metadata=meta)


async def open_excerpt(ack, body, context, client, respond) -> None:
    """Open the modal with the outcomes as the ambassador wrote them, after the role check."""
    await ack()
    if not await allowed_to_open(body, context, client, respond, Action.REVIEW_MEDIA,
                                 "feedback"):
        return
    svc = services(context)
    feedback_id = target_id(body) or 0
    try:
        async with svc.db.transaction() as s:
            draft = await excerpt_draft(s, feedback_id=feedback_id)
    except Refused as gone:
        await tell(respond, client, body, gone.sentence)
        return
    try:
        await client.views_open(trigger_id=body["trigger_id"],
                                view=excerpt_view(feedback_id, draft, where_clicked(body)))
    except SlackApiError as error:
        log.warning("excerpt modal not opened: %s", error.response.get("error"))


async def publish_excerpt(ack, body, view, context, client) -> None:
    """Publish (or withdraw) the excerpt as typed; a refusal stays on the field."""
    svc = services(context)
    meta = json.loads(view.get("private_metadata") or "{}")
    feedback_id = int(meta.get("feedback_id") or 0)
    text = ((view["state"]["values"].get(FIELD) or {}).get(FIELD) or {}).get("value") or ""

    async def work(s: AsyncSession, actor: Person) -> None:
        await do_publish_outcome(s, svc.scheme, feedback_id=feedback_id, excerpt=text,
                                 actor=actor, now=svc.now())

    await submit_and_rewrite(ack, view, body, context, client, FIELD, work,
                             lambda actor: feedback_post_ref(feedback_id))


def register(app: AsyncApp) -> None:
    app.action(OUTCOME_PUBLISH)(open_excerpt)
    app.view(OUTCOME_EXCERPT)(publish_excerpt)
