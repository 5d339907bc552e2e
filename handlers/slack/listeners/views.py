"""Submissions of the office's modals: a grant step's reason or question, an invite, a
meeting. The operation runs before the ack, so its refusal can be shown on the field."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.slack import modals
from handlers.slack.context import STRANGER, Duplicate, once, services, view_key, who
from handlers.slack.listeners.actions import submit_and_rewrite
from storage.errors import Refused
from storage.models import Person
from storage.operations import grants, meetings, people
from storage.parsers import parse_when


def _value(view: dict[str, Any], block_id: str) -> Any:
    entry = (view["state"]["values"].get(block_id) or {}).get(block_id) or {}
    if "selected_option" in entry:
        return (entry.get("selected_option") or {}).get("value")
    return entry.get("value")


async def record_grant_step(ack, body, view, context, client) -> None:
    """Ask for information / Decline / Add recommendation / Reject, with the typed text."""
    svc = services(context)
    meta = json.loads(view.get("private_metadata") or "{}")
    step, grant_id = meta.get("step"), int(meta.get("grant_id") or 0)
    text = _value(view, "reason") or ""

    async def work(s: AsyncSession, actor: Person) -> None:
        if step == "ask":
            await grants.do_request_grant_info(s, svc.scheme, grant_id=grant_id,
                                               question=text, actor=actor)
        elif step == "decline":
            await grants.do_decline_grant(s, svc.scheme, grant_id=grant_id, reason=text,
                                          actor=actor, now=svc.now())
        elif step == "deputy":
            await grants.do_add_deputy_recommendation(s, svc.scheme, grant_id=grant_id,
                                                      recommendation=text, actor=actor)
        elif step == "reject":
            await grants.do_reject_grant(s, svc.scheme, grant_id=grant_id, reason=text,
                                         actor=actor, now=svc.now())
        else:
            raise Refused("That form is out of date; please click the button again.")

    def ref(actor: Person) -> str:
        return (f"grant:{grant_id}:decision:{actor.id}" if step == "reject"
                else f"grant:{grant_id}:grants")

    await submit_and_rewrite(ack, view, body, context, client, "reason", work, ref)


async def create_invite(ack, body, view, context) -> None:
    """An officer invites someone; the modal then shows the link to send them."""
    svc = services(context)
    person = await who(svc, body["user"]["id"])
    if person is None:
        await ack(response_action="errors", errors={"name": STRANGER})
        return
    try:
        async with once(svc, view_key(view)) as s:
            invite = await people.do_create_invite(
                s, svc.scheme, name=_value(view, "name") or "", role=_value(view, "role") or "",
                area=_value(view, "area"), actor=person, now=svc.now())
            code, name = invite.code, invite.name
    except Duplicate:
        await ack()
        return
    except Refused as refusal:
        sentence = refusal.sentence
        block = "area" if "area" in sentence.lower() else (
            "role" if "role" in sentence.lower() else "name")
        await ack(response_action="errors", errors={block: sentence})
        return
    link = f"https://t.me/{svc.telegram_bot_username}?start={code}"
    await ack(response_action="update", view=modals.invite_done_view(
        name, code, link, svc.scheme.limits.invite_valid_days))


async def schedule_meeting(ack, body, view, context) -> None:
    """An officer schedules a quarterly meeting or a catch-up; ambassadors are invited."""
    svc = services(context)
    person = await who(svc, body["user"]["id"])
    if person is None:
        await ack(response_action="errors", errors={"title": STRANGER})
        return
    now = svc.now()
    try:
        starts = parse_when(_value(view, "starts_at") or "", now=now, tz=svc.scheme.timezone)
    except Refused as refusal:
        await ack(response_action="errors", errors={"starts_at": refusal.sentence})
        return
    minutes = int(_value(view, "length") or 60)
    try:
        async with once(svc, view_key(view)) as s:
            meeting = await meetings.do_schedule_meeting(
                s, svc.scheme, kind=_value(view, "kind") or "", title=_value(view, "title") or "",
                place=_value(view, "place") or "", starts_at=starts,
                ends_at=starts + dt.timedelta(minutes=minutes), actor=person, now=now)
            title = meeting.title
    except Duplicate:
        await ack()
        return
    except Refused as refusal:
        field = refusal.field if refusal.field in ("title", "place", "starts_at") else "title"
        await ack(response_action="errors", errors={field: refusal.sentence})
        return
    await ack(response_action="update", view=modals.notice_view(
        "Meeting scheduled", f"“{title}” is scheduled; every ambassador is being invited."))


def register(app: AsyncApp) -> None:
    app.view(modals.GRANT_REASON)(record_grant_step)
    app.view(modals.INVITE)(create_invite)
    app.view(modals.MEETING)(schedule_meeting)
