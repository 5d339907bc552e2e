"""The meeting post's buttons: Record notes and Move open their modals (after the role check,
with the click's trigger id), their submissions run one operation each, and an action's Done
closes its follow-up. Every change rewrites the post from the row its operation queued."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.slack import meeting_modals
from handlers.slack.context import once, services, tell, who
from handlers.slack.listeners.actions import (allowed_to_open, run_click, submit_and_rewrite,
                                              target_id, where_clicked)
from handlers.slack.meeting_post import MEETING_ACTION_DONE, MEETING_MOVE_OPEN, MEETING_NOTES_OPEN
from storage.errors import InvalidInput, Refused
from storage.models import Person
from storage.operations import follow_ups, meeting_notes, meetings, office
from storage.operations.meeting_notes import ActionItem
from storage.parsers import parse_when
from storage.permissions import Action

log = logging.getLogger(__name__)


def _state(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return (view["state"]["values"].get(block_id) or {}).get(block_id) or {}


def _text(view: dict[str, Any], block_id: str) -> str:
    return _state(view, block_id).get("value") or ""


def _person_id(view: dict[str, Any], block_id: str) -> int | None:
    value = (_state(view, block_id).get("selected_option") or {}).get("value")
    return int(value) if value and str(value).isdigit() else None


def _date(view: dict[str, Any], block_id: str) -> dt.date | None:
    value = _state(view, block_id).get("selected_date")
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInput("Please pick the date from the calendar.", field=block_id) from None


def notes_from_view(view: dict[str, Any]) -> dict[str, Any]:
    """The modal's values as the operation takes them."""
    attended = [int(o["value"]) for o in _state(view, "attended").get("selected_options") or []
                if str(o.get("value", "")).isdigit()]
    rows = [ActionItem(_text(view, f"action_{n}"), _person_id(view, f"owner_{n}"),
                       _date(view, f"due_{n}"))
            for n in range(1, meeting_modals.ACTION_ROWS + 1)]
    return {"attended_ids": attended, "notes": _text(view, "notes"),
            "decisions": _text(view, "decisions"), "actions": rows}


async def _open(body: dict[str, Any], context: Any, client: Any, respond: Any,
                build: Any) -> None:
    if not await allowed_to_open(body, context, client, respond, Action.MANAGE_MEETINGS,
                                 "meetings"):
        return
    svc = services(context)
    try:
        async with svc.db.transaction() as s:
            heading = await meeting_notes.meeting_heading(s, svc.scheme, target_id(body))
            people = await meeting_notes.people_of_scheme(s)
    except Refused as refusal:
        await tell(respond, client, body, refusal.sentence)
        return
    try:
        await client.views_open(trigger_id=body["trigger_id"],
                                view=build(svc, heading, people, where_clicked(body)))
    except SlackApiError as error:
        log.warning("meeting modal not opened: %s", error.response.get("error"))


async def open_notes(ack, body, context, client, respond) -> None:
    """Record notes: who came, notes, decisions, actions."""
    await ack()
    await _open(body, context, client, respond,
                lambda svc, heading, people, where: meeting_modals.notes_view(
                    svc.scheme, heading, people, where))


async def open_move(ack, body, context, client, respond) -> None:
    """Move: a new date and time for the meeting."""
    await ack()
    await _open(body, context, client, respond,
                lambda svc, heading, people, where: meeting_modals.move_view(heading, where))


async def _submit(ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any,
                  client: Any, fallback: str, work: Any) -> None:
    """Run `work(session, actor, meeting_id)` once per submission; a refusal is shown on the
    field it is about (else on `fallback`); then the meeting's post is rewritten at once."""
    meta = json.loads(view.get("private_metadata") or "{}")
    meeting_id = int(meta.get("meeting_id") or 0)
    await submit_and_rewrite(ack, view, body, context, client, fallback,
                             lambda s, actor: work(s, actor, meeting_id),
                             lambda _actor: meetings.post_ref(meeting_id))


async def record_notes(ack, body, view, context, client) -> None:
    """The office records the meeting's attendance, notes, decisions and actions."""
    svc = services(context)

    async def work(s: AsyncSession, actor: Person, meeting_id: int) -> None:
        await meeting_notes.do_record_meeting_notes(s, svc.scheme, meeting_id=meeting_id,
                                                    actor=actor, now=svc.now(),
                                                    **notes_from_view(view))

    await _submit(ack, body, view, context, client, "notes", work)


async def move_meeting(ack, body, view, context, client) -> None:
    """The office moves the meeting; everyone invited is told."""
    svc = services(context)

    async def work(s: AsyncSession, actor: Person, meeting_id: int) -> None:
        now = svc.now()
        starts = parse_when(_text(view, "starts_at"), now=now, tz=svc.scheme.timezone)
        await meetings.do_move_meeting(s, svc.scheme, meeting_id=meeting_id, starts_at=starts,
                                       actor=actor, now=now)

    await _submit(ack, body, view, context, client, "starts_at", work)


async def action_done(ack, body, context, client, respond) -> None:
    """An action agreed at a meeting is done (its follow-up is closed)."""
    await ack()
    follow_up_id = target_id(body)
    _, _, meeting = str((body.get("actions") or [{}])[0].get("value") or "").partition(":")
    svc = services(context)

    async def work(s: AsyncSession, actor: Person) -> None:
        await follow_ups.do_complete_follow_up(s, svc.scheme, follow_up_id=follow_up_id or 0,
                                               actor=actor, now=svc.now())

    await run_click(body, context, client, respond, work,
                    lambda person: meetings.post_ref(int(meeting)) if meeting.isdigit()
                    else None)


def register(app: AsyncApp) -> None:
    app.action(MEETING_NOTES_OPEN)(open_notes)
    app.action(MEETING_MOVE_OPEN)(open_move)
    app.action(MEETING_ACTION_DONE)(action_done)
    app.view(meeting_modals.MEETING_NOTES)(record_notes)
    app.view(meeting_modals.MEETING_MOVE)(move_meeting)
