"""The office's expense buttons: Approve on the claim's post; Query and Reject open a modal
for the reason; "Mark paid" on the App Home pays the approved batch the officer was shown.
Each runs one operation (which checks the role matrix and audits a refusal) with the click
recorded as handled in the same transaction."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.slack import expenses as view
from handlers.slack.context import services, tell
from handlers.slack.home import home_view
from handlers.slack.listeners.actions import (allowed_to_open, run_click, submit_and_rewrite,
                                             target_id, where_clicked)
from storage.errors import Refused
from storage.models import Person
from storage.operations import expenses
from storage.permissions import Action

log = logging.getLogger(__name__)


def _ref(claim_id: int | None) -> Any:
    return lambda person: expenses.office_ref(claim_id or 0)


async def approve_expense(ack, body, context, client, respond) -> None:
    """An officer or the deputy approves the claim."""
    await ack()
    claim_id = target_id(body)
    svc = services(context)

    async def work(s: AsyncSession, actor: Person) -> None:
        await expenses.do_approve_expense(s, svc.scheme, claim_id=claim_id or 0, actor=actor,
                                          now=svc.now())

    await run_click(body, context, client, respond, work, _ref(claim_id))


def open_reason(step: str) -> Any:
    async def opener(ack, body, context, client, respond) -> None:
        await ack()
        if not await allowed_to_open(body, context, client, respond, Action.APPROVE_EXPENSES,
                                     "expense_claims"):
            return
        claim_id = target_id(body) or 0
        summary = (body.get("message") or {}).get("text", "") or f"Expense claim #{claim_id}"
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=view.reason_view(
                step, claim_id, summary[:500], where_clicked(body)))
        except SlackApiError as error:
            log.warning("expense %s modal not opened: %s", step, error.response.get("error"))
    opener.__name__ = f"open_expense_{step}"
    opener.__doc__ = f"Open the modal asking why the claim is {step}ed."
    return opener


async def record_reason(ack, body, view, context, client) -> None:
    """Query or Reject, with the typed reason; a refusal is shown on the field."""
    svc = services(context)
    meta = json.loads(view.get("private_metadata") or "{}")
    step, claim_id = meta.get("step"), int(meta.get("claim_id") or 0)
    text = (((view["state"]["values"].get("reason") or {}).get("reason") or {})
            .get("value")) or ""

    async def work(s: AsyncSession, actor: Person) -> None:
        if step == "query":
            await expenses.do_query_expense(s, svc.scheme, claim_id=claim_id, reason=text,
                                            actor=actor, now=svc.now())
        elif step == "reject":
            await expenses.do_reject_expense(s, svc.scheme, claim_id=claim_id, reason=text,
                                             actor=actor, now=svc.now())
        else:
            raise Refused("That form is out of date; please click the button again.")

    await submit_and_rewrite(ack, view, body, context, client, "reason", work, _ref(claim_id))


async def mark_paid(ack, body, context, client, respond) -> None:
    """Pay the batch the App Home showed: every claim approved before it was shown."""
    await ack()
    svc = services(context)
    raw = str((body.get("actions") or [{}])[0].get("value") or "")
    try:
        shown_at = dt.datetime.fromisoformat(raw)
        if shown_at.tzinfo is None:
            raise ValueError(raw)
    except ValueError:
        await tell(respond, client, body, "That list is out of date; please refresh it.")
        return
    paid: list[Any] = []

    async def work(s: AsyncSession, actor: Person) -> None:
        paid.extend(await expenses.do_mark_expenses_paid(
            s, svc.scheme, approved_before=shown_at + dt.timedelta(microseconds=1),
            actor=actor, now=svc.now()))

    person = await run_click(body, context, client, respond, work, lambda p: None)
    if person is None:
        return
    await tell(respond, client, body, f"Marked {len(paid)} claim{'s' if len(paid) != 1 else ''}"
                                      " paid; each ambassador is being told." if paid else
               "Nothing was left to pay: those claims were already marked paid.")
    try:
        await client.views_publish(user_id=body["user"]["id"],
                                   view=await home_view(svc, person))
    except SlackApiError as error:
        log.info("home not refreshed: %s", error.response.get("error"))


def register(app: AsyncApp) -> None:
    app.action(view.EXPENSE_APPROVE)(approve_expense)
    app.action(view.EXPENSE_QUERY)(open_reason("query"))
    app.action(view.EXPENSE_REJECT)(open_reason("reject"))
    app.action(view.EXPENSES_MARK_PAID)(mark_paid)
    app.view(view.EXPENSE_REASON)(record_reason)
