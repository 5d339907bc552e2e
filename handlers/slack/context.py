"""What every Slack listener shares: the services built in bot/, who the Slack user is, the
unit of work that records a request as handled together with its effect, and how a refusal
is said to the person (one sentence, only to them)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import log_context
from handlers.slack.blocks import esc
from handlers.slack.modals import notice_view
from storage.db import Database
from storage.errors import Conflict, NotAllowed
from storage.models import Person, utcnow
from storage.operations.people import person_by_slack
from storage.operations.updates import mark_processed
from storage.permissions import Action, require
from storage.scheme import Scheme

log = logging.getLogger(__name__)

STRANGER = ("You're not part of the Community Ambassador scheme on this Slack yet — if the "
            "office has invited you, type `/ambassadors join` followed by your invite code.")
INACTIVE = ("Your account is not active. Please contact the engagement team if you think this "
            "is a mistake.")
SORRY = ("Sorry — something went wrong on my side and nothing was changed. Please try again "
         "in a moment.")


@dataclass
class SlackServices:
    """Built once in bot/ (or by a test) and reached from every listener's `context`."""

    db: Database
    scheme: Scheme
    clock: Any = utcnow
    telegram_bot_username: str = ""   # the real one, from getMe (bot/runner.py)
    extra: dict[str, Any] = field(default_factory=dict)

    def now(self) -> dt.datetime:
        return self.clock()


def services(context: AsyncBoltContext) -> SlackServices:
    return context["services"]


async def who(svc: SlackServices, slack_id: str | None) -> Person | None:
    """The scheme's person behind a Slack user id, or None for a stranger."""
    if not slack_id:
        return None
    async with svc.db.transaction() as s:
        person = await person_by_slack(s, slack_id)
    log_context.about_person(person.id if person is not None else None)
    return person


class Duplicate(Exception):
    """The same Slack request arrived again (a retry): its effect is already recorded."""


@asynccontextmanager
async def once(svc: SlackServices, key: str | None) -> AsyncIterator[AsyncSession]:
    """One transaction that also records `key` as handled: a retried request finds the key
    and raises Duplicate, and a race between two deliveries leaves one effect."""
    async with svc.db.transaction() as session:
        if key:
            try:
                await mark_processed(session, key)
            except Conflict:
                # Another delivery of the same request recorded the key first (or a moment
                # ago): this one changes nothing.
                raise Duplicate(key) from None
        yield session


def action_key(body: dict[str, Any]) -> str:
    """The key of a button click: Slack sends a retried click with the same action_ts."""
    action = (body.get("actions") or [{}])[0]
    return (f"slack:act:{body.get('user', {}).get('id', '')}:{action.get('action_ts', '')}:"
            f"{action.get('action_id', '')}")[:120]


def view_key(view: dict[str, Any]) -> str:
    return f"slack:view:{view.get('id', '')}:{view.get('hash', '')}"[:120]


async def check(svc: SlackServices, person: Person, action: Action, *,
                target_type: str | None = None, target_id: int | None = None) -> str | None:
    """The role check before showing something (a modal, a list): None when allowed, else
    the sentence to say. A refusal is audited, as every refusal is (DESIGN §8)."""
    try:
        async with svc.db.transaction():
            require(person, action, target_type=target_type, target_id=target_id)
    except NotAllowed as refusal:
        return refusal.sentence
    return None


async def tell(respond: AsyncRespond | None, client: AsyncWebClient, body: dict[str, Any],
               sentence: str) -> None:
    """Say one sentence to the person who acted, and to nobody else. The sentence may carry
    names people typed (who decided, an applicant), so it is escaped for mrkdwn here."""
    user = body.get("user", {}).get("id") or body.get("user_id")
    text = esc(sentence)
    try:
        if respond is not None and (body.get("response_url") or body.get("response_urls")):
            await respond(text=text, response_type="ephemeral", replace_original=False)
            return
        channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
        if channel and user:
            await client.chat_postEphemeral(channel=channel, user=user, text=text)
            return
        trigger = body.get("trigger_id")
        if trigger:
            await client.views_open(trigger_id=trigger, view=notice_view("Ambassadors",
                                                                         sentence))
    except SlackApiError as error:
        log.warning("could not tell %s: %s", user, error.response.get("error"))
