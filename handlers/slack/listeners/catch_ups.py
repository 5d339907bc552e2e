"""The office's "Make a follow-up" button on a catch-up answer's post: one press makes the
follow-up and rewrites the post to say so; a second press is told it already is one."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.slack.context import services
from handlers.slack.listeners.actions import run_click, target_id
from handlers.slack.render import CATCH_UP_FOLLOW_UP
from storage.models import Person
from storage.operations import catch_ups


async def make_follow_up(ack, body, context, client, respond) -> None:
    """Turn the catch-up answer into a follow-up for the office."""
    await ack()
    catch_up_id = target_id(body) or 0
    svc = services(context)

    async def work(s: AsyncSession, actor: Person) -> None:
        await catch_ups.do_make_follow_up(s, svc.scheme, catch_up_id=catch_up_id, actor=actor,
                                          now=svc.now())

    await run_click(body, context, client, respond, work,
                    lambda person: catch_ups.post_ref(catch_up_id))


def register(app: AsyncApp) -> None:
    app.action(CATCH_UP_FOLLOW_UP)(make_follow_up)
