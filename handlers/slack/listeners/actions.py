"""Buttons on the office's posts: the grant chain, follow-up alerts, media review, meeting
replies, and the App Home's buttons. Each acks at once, finds who clicked, runs one operation
(which checks the role and audits a refusal) with the click recorded as handled in the same
transaction, and rewrites the clicked message from the row that operation queued — so no
stale button remains. A refusal is one sentence shown only to the person who clicked."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.slack import modals
from handlers.slack.context import (STRANGER, Duplicate, SlackServices, action_key, check, once,
                                    services, tell, view_key, who)
from handlers.slack.home import HOME_INVITE, HOME_MEETING, HOME_REFRESH, home_view
from handlers.slack.render import (FOLLOW_UP_ACK, FOLLOW_UP_ASSIGN, FOLLOW_UP_DONE,
                                   GRANT_APPROVE, GRANT_ASK, GRANT_DECLINE, GRANT_DEPUTY,
                                   GRANT_REFER, GRANT_REJECT, MEDIA_APPROVE, MEDIA_CONSENT,
                                   MEDIA_REJECT, RSVP_PREFIX, already_decided, render)
from storage.errors import AlreadyDecided, Refused
from storage.models import Person
from storage.operations import follow_ups, grants, media, meetings, office
from storage.operations.people import person_by_slack
from storage.permissions import Action

log = logging.getLogger(__name__)

Op = Callable[[AsyncSession, Person], Awaitable[Any]]
MEETING_CANCEL = "meeting_cancel"
MEETING_SCHEDULE = "meeting_schedule"


def _value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value") or "")


def target_id(body: dict[str, Any]) -> int | None:
    """The record a button acts on: its value, or the number after ':' in its block id."""
    action = (body.get("actions") or [{}])[0]
    raw = action.get("value") or str(action.get("block_id", "")).rpartition(":")[2]
    head = str(raw).split(":")[0]
    return int(head) if head.isdigit() else None


def where_clicked(body: dict[str, Any]) -> dict[str, Any]:
    container = body.get("container") or {}
    return {"channel": container.get("channel_id") or (body.get("channel") or {}).get("id"),
            "ts": container.get("message_ts")}


async def rewrite(client: AsyncWebClient, where: dict[str, Any],
                  rendered: dict[str, Any] | None) -> None:
    """Show the decision on the clicked message now; the dispatcher's rewrite of the same
    message (from the same outbox row) follows and changes nothing a person sees."""
    if rendered is None or not where.get("channel") or not where.get("ts"):
        return
    try:
        await client.chat_update(channel=where["channel"], ts=where["ts"],
                                 text=rendered["text"], blocks=rendered["blocks"])
    except SlackApiError as error:
        log.warning("could not rewrite the clicked message: %s", error.response.get("error"))


async def allowed_to_open(body: dict[str, Any], context: AsyncBoltContext,
                          client: AsyncWebClient, respond: AsyncRespond | None,
                          action: Action, target_type: str) -> bool:
    """The role check before a button opens a modal (the modal must open at once, with the
    click's trigger id): True when the person may; False once they have been told why not
    (a stranger, or the role matrix's sentence, audited against the clicked record)."""
    svc = services(context)
    person = await who(svc, body["user"]["id"])
    if person is None:
        await tell(respond, client, body, STRANGER)
        return False
    refusal = await check(svc, person, action, target_type=target_type,
                          target_id=target_id(body))
    if refusal:
        await tell(respond, client, body, refusal)
        return False
    return True


async def submit_and_rewrite(ack: Any, view: dict[str, Any], body: dict[str, Any],
                             context: AsyncBoltContext, client: AsyncWebClient, field: str,
                             work: Op, ref: Callable[[Person], str]) -> None:
    """A modal that completes a button's decision (a reason, an excerpt): `work(session,
    actor)` runs the operation once per submission; a refusal stays on `field`; then the
    message the button was on is rewritten from the row the operation queued for `ref`. A
    refusal that names another input of the modal is shown on that one."""
    svc = services(context)
    meta = json.loads(view.get("private_metadata") or "{}")
    inputs = {b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"}
    person = await who(svc, body["user"]["id"])
    if person is None:
        await ack(response_action="errors", errors={field: STRANGER})
        return
    rendered = None
    try:
        async with once(svc, view_key(view)) as s:
            await work(s, person)
            row = await office.latest_rewrite(s, ref(person))
            if row is not None:
                rendered = render(row.event, row.payload, svc.scheme.timezone)
    except Duplicate:
        await ack()
        return
    except Refused as refusal:
        shown_on = refusal.field if refusal.field in inputs else field
        await ack(response_action="errors", errors={shown_on: refusal.sentence})
        return
    await ack()
    await rewrite(client, {"channel": meta.get("channel"), "ts": meta.get("ts")}, rendered)


async def run_click(body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient,
                    respond: AsyncRespond | None, work: Op,
                    ref: Callable[[Person], str | None]) -> Person | None:
    """The shape of every decision button (see the module docstring): `work(session, actor)`
    runs the operation; `ref(actor)` names the clicked message, to rewrite it from the row
    the operation queued. Returns the person when the click took effect (None when refused
    or a repeat of a click already handled)."""
    svc = services(context)
    person = await who(svc, body["user"]["id"])
    if person is None:
        await tell(respond, client, body, STRANGER)
        return None
    rendered = None
    try:
        async with once(svc, action_key(body)) as s:
            await work(s, person)
            name = ref(person)
            row = await office.latest_rewrite(s, name) if name else None
            if row is not None:
                rendered = render(row.event, row.payload, svc.scheme.timezone)
    except Duplicate:
        return None
    except Refused as refusal:
        await tell(respond, client, body, refusal.sentence)
        return None
    await rewrite(client, where_clicked(body), rendered)
    return person


# ---- the grant chain -----------------------------------------------------------------------

def _decision_post(grant_id: int) -> Callable[[Person], str]:
    return lambda person: f"grant:{grant_id}:decision:{person.id}"


async def refer_grant(ack, body, context, client, respond) -> None:
    """The commissioning team sends a grant to the Commissioner."""
    await ack()
    grant_id = target_id(body)
    scheme = services(context).scheme

    async def work(s: AsyncSession, actor: Person) -> None:
        await grants.do_refer_grant(s, scheme, grant_id=grant_id, actor=actor)

    await run_click(body, context, client, respond, work, lambda p: f"grant:{grant_id}:grants")


async def approve_grant(ack, body, context, client, respond) -> None:
    """The Commissioner approves a referred grant; the fund pays for it or refuses."""
    await ack()
    grant_id = target_id(body)
    svc = services(context)

    async def work(s: AsyncSession, actor: Person) -> None:
        await grants.do_approve_grant(s, svc.scheme, grant_id=grant_id, actor=actor,
                                      now=svc.now())

    await run_click(body, context, client, respond, work, _decision_post(grant_id))


STEP_ACTIONS = {"ask": Action.SCRUTINISE_GRANT, "decline": Action.SCRUTINISE_GRANT,
                "deputy": Action.ADD_DEPUTY_RECOMMENDATION, "reject": Action.DECIDE_GRANT}


def grant_step(step: str) -> Callable[..., Awaitable[None]]:
    """Ask for information / Decline / Add recommendation / Reject: a modal asks for the
    text, opened at once with the trigger id after the role check."""

    async def open_reason(ack, body, context, client, respond) -> None:
        await ack()
        if not await allowed_to_open(body, context, client, respond, STEP_ACTIONS[step],
                                     "grant_recommendations"):
            return
        grant_id = target_id(body)
        summary = (body.get("message") or {}).get("text", "") or f"Grant #{grant_id}"
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=modals.grant_reason_view(
                step, grant_id, summary[:500], where_clicked(body)))
        except SlackApiError as error:
            log.warning("grant %s modal not opened: %s", step, error.response.get("error"))
    open_reason.__name__ = f"open_grant_{step}"
    open_reason.__doc__ = f"Open the modal for the grant step {step!r}."
    return open_reason


# ---- alerts: follow-ups -----------------------------------------------------------------------

def _follow_up_ref(follow_up_id: int | None) -> Callable[[Person], str]:
    return lambda person: f"follow_up:{follow_up_id}:alert"


async def acknowledge_follow_up(ack, body, context, client, respond) -> None:
    """Someone in the office takes the follow-up."""
    await ack()
    follow_up_id = target_id(body)
    svc = services(context)

    async def work(s: AsyncSession, actor: Person) -> None:
        await follow_ups.do_acknowledge_follow_up(s, svc.scheme, follow_up_id=follow_up_id,
                                                  actor=actor, now=svc.now())

    await run_click(body, context, client, respond, work, _follow_up_ref(follow_up_id))


async def complete_follow_up(ack, body, context, client, respond) -> None:
    """The follow-up is done."""
    await ack()
    follow_up_id = target_id(body)
    svc = services(context)

    async def work(s: AsyncSession, actor: Person) -> None:
        await follow_ups.do_complete_follow_up(s, svc.scheme, follow_up_id=follow_up_id,
                                               actor=actor, now=svc.now())

    await run_click(body, context, client, respond, work, _follow_up_ref(follow_up_id))


async def assign_follow_up(ack, body, context, client, respond) -> None:
    """Someone picked a person in the Assign user picker."""
    await ack()
    follow_up_id = target_id(body)
    picked = (body.get("actions") or [{}])[0].get("selected_user")
    svc = services(context)

    async def work(s: AsyncSession, actor: Person) -> None:
        owner = await person_by_slack(s, picked or "")
        if owner is None:
            raise Refused("That person isn't part of the scheme on Slack, so the follow-up "
                          "can't be assigned to them.")
        await follow_ups.do_assign_follow_up(s, svc.scheme, follow_up_id=follow_up_id,
                                             owner_id=owner.id, actor=actor, now=svc.now())

    await run_click(body, context, client, respond, work, _follow_up_ref(follow_up_id))


# ---- media review -------------------------------------------------------------------------------

def _media_ref(media_id: int | None) -> Callable[[Person], str]:
    return lambda person: f"media:{media_id}:media"


def _shown(body: dict[str, Any]) -> str | None:
    """The review state the media post showed when its button was pressed (None on posts
    made before buttons carried it)."""
    _, _, state = _value(body).partition(":")
    return state or None


def _media_work(body: dict[str, Any], context: AsyncBoltContext,
                act: Callable[[AsyncSession, Person, str | None], Awaitable[Any]]) -> Op:
    """A media action on the state its post showed; a state that moved on is worded here in
    the scheme's time zone."""
    tz = services(context).scheme.timezone
    shown = _shown(body)

    async def work(s: AsyncSession, actor: Person) -> None:
        try:
            await act(s, actor, shown)
        except AlreadyDecided as moved_on:
            raise Refused(already_decided(moved_on, tz)) from None
    return work


def review_media(approve: bool) -> Callable[..., Awaitable[None]]:
    async def review(ack, body, context, client, respond) -> None:
        await ack()
        media_id = target_id(body)
        scheme = services(context).scheme

        async def act(s: AsyncSession, actor: Person, shown: str | None) -> None:
            await media.do_review_media(s, scheme, media_id=media_id, approve=approve,
                                        actor=actor, shown=shown)

        await run_click(body, context, client, respond, _media_work(body, context, act),
                        _media_ref(media_id))
    review.__name__ = "approve_media" if approve else "reject_media"
    review.__doc__ = "Approve the photo for use." if approve else "Mark the photo not for use."
    return review


async def record_guardian_consent(ack, body, context, client, respond) -> None:
    """An officer records that a guardian consented; the post then loses this button."""
    await ack()
    media_id = target_id(body)
    scheme = services(context).scheme

    async def act(s: AsyncSession, actor: Person, shown: str | None) -> None:
        await media.do_record_guardian_consent(s, scheme, media_id=media_id, actor=actor,
                                               shown=shown)

    await run_click(body, context, client, respond, _media_work(body, context, act),
                    _media_ref(media_id))


# ---- meetings ----------------------------------------------------------------------------------

async def rsvp(ack, body, context, client, respond) -> None:
    """An ambassador answers a meeting invitation in their Slack DM."""
    await ack()
    meeting_id_text, _, answer = _value(body).partition(":")
    meeting_id = int(meeting_id_text) if meeting_id_text.isdigit() else 0

    async def work(s: AsyncSession, actor: Person) -> None:
        await meetings.do_rsvp(s, services(context).scheme, meeting_id=meeting_id,
                               answer=answer, actor=actor,
                               now=services(context).now())

    person = await run_click(body, context, client, respond, work, lambda p: None)
    if person is not None:
        await tell(respond, client, body, f"Thank you — I've noted your answer: {answer}. "
                                          "You can change it with the buttons.")


async def cancel_meeting(ack, body, context, client, respond) -> None:
    """An officer cancels a meeting from the /ambassadors meetings list."""
    await ack()
    meeting_id = target_id(body)
    svc = services(context)

    async def work(s: AsyncSession, actor: Person) -> None:
        await meetings.do_cancel_meeting(s, svc.scheme, meeting_id=meeting_id, actor=actor)

    person = await run_click(body, context, client, respond, work, lambda p: None)
    if person is not None:
        await tell(respond, client, body, "Cancelled — the ambassadors are being told.")


async def open_office_modal(ack, body, context, client, respond) -> None:
    """Invite someone / Schedule a meeting, from App Home or the meetings list."""
    await ack()
    svc = services(context)
    action_id = body["actions"][0]["action_id"]
    person = await who(svc, body["user"]["id"])
    if person is None:
        await tell(respond, client, body, STRANGER)
        return
    inviting = action_id == HOME_INVITE
    refusal = await check(svc, person, Action.INVITE if inviting else Action.MANAGE_MEETINGS,
                          target_type="invites" if inviting else "meetings")
    if refusal:
        await tell(respond, client, body, refusal)
        return
    view = modals.invite_view(svc.scheme) if inviting else modals.meeting_view(svc.scheme)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def refresh_home(ack, body, context, client) -> None:
    """Republish the App Home with today's figures."""
    await ack()
    svc: SlackServices = services(context)
    user = body["user"]["id"]
    await client.views_publish(user_id=user, view=await home_view(svc, await who(svc, user)))


def register(app: AsyncApp) -> None:
    app.action(GRANT_REFER)(refer_grant)
    app.action(GRANT_ASK)(grant_step("ask"))
    app.action(GRANT_DECLINE)(grant_step("decline"))
    app.action(GRANT_DEPUTY)(grant_step("deputy"))
    app.action(GRANT_APPROVE)(approve_grant)
    app.action(GRANT_REJECT)(grant_step("reject"))
    app.action(FOLLOW_UP_ACK)(acknowledge_follow_up)
    app.action(FOLLOW_UP_ASSIGN)(assign_follow_up)
    app.action(FOLLOW_UP_DONE)(complete_follow_up)
    app.action(MEDIA_APPROVE)(review_media(True))
    app.action(MEDIA_REJECT)(review_media(False))
    app.action(MEDIA_CONSENT)(record_guardian_consent)
    app.action(re.compile(f"^{RSVP_PREFIX}"))(rsvp)
    app.action(MEETING_CANCEL)(cancel_meeting)
    app.action(HOME_INVITE)(open_office_modal)
    app.action(HOME_MEETING)(open_office_modal)
    app.action(MEETING_SCHEDULE)(open_office_modal)
    app.action(HOME_REFRESH)(refresh_home)

