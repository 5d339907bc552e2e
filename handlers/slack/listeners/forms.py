"""Ambassadors' forms in Slack: a button (App Home or the DM menu) opens the form's modal,
a choice that reveals more questions rebuilds it, and Submit files it (see
handlers/slack/forms.py for how a declaration becomes a modal)."""

from __future__ import annotations

import json
import logging
import re

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from handlers.forms.engine import FormContext
from handlers.slack import forms, modals
from handlers.slack.context import (SORRY, STRANGER, Duplicate, SlackServices, check, services, tell,
                                    view_key, who)
from handlers.slack.home import home_view
from handlers.slack.render import OPEN_FORM_PREFIX
from storage.errors import Refused
from storage.models import Person
from storage.operations import office
from storage.operations.updates import Once, Repeat
from storage.permissions import Action

log = logging.getLogger(__name__)
ALREADY = "Already received — thank you."


def form_context(svc: SlackServices, person: Person, update_key: str | None = None,
                 ) -> FormContext:
    return FormContext(db=svc.db, scheme=svc.scheme, person=person, now=svc.now(),
                       once=Once(svc.db, update_key) if update_key else None,
                       services={"media_intake": svc.extra.get("media_intake")})


async def open_form(ack, body, context, client, respond) -> None:
    """Open the form's modal at once (trigger ids expire in 3 s), then fill it in."""
    await ack()
    svc = services(context)
    name = str(body["actions"][0].get("value") or "")
    person = await who(svc, body["user"]["id"])
    if person is None:
        await tell(respond, client, body, STRANGER)
        return
    form = forms.form_for(name)
    if form is None or (name == "photos" and not svc.extra.get("media_intake")):
        await tell(respond, client, body, forms.unsupported_sentence(name))
        return
    action = Action.RECOMMEND_GRANT if name == "grant" else Action.OWN_RECORDS
    refusal = await check(svc, person, action, target_type="form_drafts")
    if refusal:
        await tell(respond, client, body, refusal)
        return
    opened = await client.views_open(trigger_id=body["trigger_id"],
                                     view=modals.loading_view(form.title))
    view = await forms.build_view(form, form_context(svc, person))
    try:
        await client.views_update(view_id=opened["view"]["id"], hash=opened["view"]["hash"],
                                  view=view)
    except SlackApiError as error:
        # hash_conflict: the person already closed or changed it; nothing to do.
        log.info("form modal not filled: %s", error.response.get("error"))


async def rebuild_form(ack, body, context, client) -> None:
    """A choice that may show or hide questions: rebuild the modal, keeping the answers."""
    await ack()
    svc = services(context)
    view = body.get("view") or {}
    meta = json.loads(view.get("private_metadata") or "{}")
    form = forms.form_for(meta.get("form", ""))
    person = await who(svc, body["user"]["id"])
    if form is None or person is None:
        return
    raw = forms.raw_values(form, view.get("state", {}).get("values", {}))
    new = await forms.build_view(form, form_context(svc, person), raw)
    shown = [b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"]
    if shown == [b.get("block_id") for b in new["blocks"] if b.get("type") == "input"]:
        return
    try:
        await client.views_update(view_id=view["id"], hash=view.get("hash"), view=new)
    except SlackApiError as error:
        log.info("form modal not rebuilt: %s", error.response.get("error"))


async def submit_form(ack, body, view, context, client) -> None:
    """Check every answer with the engine's parsers, then file the form with the same
    operation as Telegram; refusals go back onto their fields."""
    svc = services(context)
    meta = json.loads(view.get("private_metadata") or "{}")
    form = forms.form_for(meta.get("form", ""))
    person = await who(svc, body["user"]["id"])
    blocks = view.get("blocks") or []
    if form is None or person is None:
        first = next((b["block_id"] for b in blocks if b.get("type") == "input"), "none")
        await ack(response_action="errors", errors={first: STRANGER})
        return
    ctx = form_context(svc, person, update_key=view_key(view))
    answers, errors = await forms.read_answers(form, ctx, view["state"]["values"], blocks)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    if form.name == "photos":
        # The safe-media pipeline may take longer than Slack's 3 seconds: say so at once, and
        # send the outcome as a direct message through the outbox (a views.update could reach
        # Slack before it has applied this answer, and be overwritten by it).
        await ack(response_action="update", view=forms.working_view(form))
        try:
            outcome = "✅ " + await form.submit(ctx, answers)
        except Repeat:
            return   # Slack's retry of a submission already taken: its outcome is on its way
        except Refused as refusal:
            outcome = "⚠️ " + refusal.sentence
        except Exception as error:  # noqa: BLE001 — acked already: the person must hear
            log.error("photos form failed: %s", type(error).__name__, exc_info=error)
            outcome = "⚠️ " + SORRY
        async with svc.db.transaction() as s:
            await office.queue_slack_dm(s, body["user"]["id"], "form_outcome", outcome)
        await _refresh_home(client, body["user"]["id"], svc, person)
        return
    try:
        confirmation = await form.submit(ctx, answers)
    except (Duplicate, Repeat):
        confirmation = ALREADY
    except Refused as refusal:
        await ack(response_action="errors", errors={
            forms.error_block(form, refusal.field, blocks): refusal.sentence})
        return
    await ack(response_action="update", view=forms.done_view(form, confirmation))
    await _refresh_home(client, body["user"]["id"], svc, person)


async def _refresh_home(client, user: str, svc: SlackServices, person: Person) -> None:
    try:
        await client.views_publish(user_id=user, view=await home_view(svc, person))
    except SlackApiError as error:
        log.info("home not refreshed: %s", error.response.get("error"))


def register(app: AsyncApp) -> None:
    app.action(re.compile(f"^{OPEN_FORM_PREFIX}"))(open_form)
    app.action(re.compile(f"^{forms.FIELD_ACTION_PREFIX}"))(rebuild_form)
    app.view(forms.CALLBACK)(submit_form)
