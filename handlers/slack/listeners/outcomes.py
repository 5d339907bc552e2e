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

from handlers.slack.blocks import context as note
from handlers.slack.context import STRANGER, Duplicate, check, once, services, tell, view_key, who
from handlers.slack.listeners.actions import _target_id, rewrite, where_clicked
from handlers.slack.modals import _modal, text_input
from handlers.slack.render import OUTCOME_PUBLISH, render
from storage.errors import Refused
from storage.operations import office
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
    return _modal("Publishable excerpt", [
        text_input(FIELD, "The outcome as it may be published", multiline=True,
                   max_length=INPUT_MAX, optional=True, initial=draft,
                   hint="Take out the name of any member of the public. Leave it empty to "
                        "withdraw an excerpt already published."),
        note(f"Feedback #{feedback_id} · reports to the panel quote these words only"),
    ], callback_id=OUTCOME_EXCERPT, submit="Publish", close="Cancel", private_metadata=meta)


async def open_excerpt(ack, body, context, client, respond) -> None:
    """Open the modal with the outcomes as the ambassador wrote them, after the role check."""
    await ack()
    svc = services(context)
    person = await who(svc, body["user"]["id"])
    if person is None:
        await tell(respond, client, body, STRANGER)
        return
    feedback_id = _target_id(body) or 0
    refusal = await check(svc, person, Action.REVIEW_MEDIA, target_type="feedback",
                          target_id=feedback_id)
    if refusal:
        await tell(respond, client, body, refusal)
        return
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
    person = await who(svc, body["user"]["id"])
    if person is None:
        await ack(response_action="errors", errors={FIELD: STRANGER})
        return
    rendered = None
    try:
        async with once(svc, view_key(view)) as s:
            await do_publish_outcome(s, svc.scheme, feedback_id=feedback_id, excerpt=text,
                                     actor=person, now=svc.now())
            row = await office.latest_rewrite(s, feedback_post_ref(feedback_id))
            if row is not None:
                rendered = render(row.event, row.payload, svc.scheme.timezone)
    except Duplicate:
        await ack()
        return
    except Refused as refusal:
        await ack(response_action="errors", errors={FIELD: refusal.sentence})
        return
    await ack()
    await rewrite(client, {"channel": meta.get("channel"), "ts": meta.get("ts")}, rendered)


def register(app: AsyncApp) -> None:
    app.action(OUTCOME_PUBLISH)(open_excerpt)
    app.view(OUTCOME_EXCERPT)(publish_excerpt)
