"""Events: App Home opened, and a person writing to the app in a DM (the DM shortcut: the
reply, through the outbox, carries buttons that open the ambassador's forms)."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from handlers.slack.blocks import esc
from handlers.slack.context import INACTIVE, STRANGER, Duplicate, once, services, who
from handlers.slack.home import home_view
from storage.errors import Refused
from storage.operations import access, office, reminders
from storage.permissions import Action, allowed

log = logging.getLogger(__name__)

AMBASSADOR_MENU = ("Hello {name} — here is what you can do. Each button opens a short form; "
                   "your records are on the app's Home tab.")
CATCH_UP_THANKS = "Thank you — I've passed that to the engagement team."
OFFICE_MENU = ("Hello {name} — type `/ambassadors help` for what I can do for the office, or "
               "open the app's Home tab for the scheme at a glance.")


async def publish_home(event, context, client) -> None:
    """Show the person's App Home: the office's glance, an ambassador's own records, or one
    sentence for someone the scheme doesn't know."""
    if event.get("tab", "home") != "home":
        return
    svc = services(context)
    person = await who(svc, event["user"])
    try:
        await client.views_publish(user_id=event["user"], view=await home_view(svc, person))
    except SlackApiError as error:
        log.warning("home not published: %s", error.response.get("error"))


async def direct_message(body, event, context, client) -> None:
    """Someone wrote to the app: reply with what they can do (once per event, even when
    Slack delivers it again)."""
    if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype") \
            not in (None, "file_share"):
        return
    svc = services(context)
    person = await who(svc, event.get("user"))
    if person is None:
        try:
            await client.chat_postEphemeral(channel=event["channel"], user=event["user"],
                                            text=STRANGER)
        except SlackApiError as error:
            log.info("stranger not told: %s", error.response.get("error"))
        return
    if not person.active:
        # Deactivated: one sentence instead of the menu, audited (once, even on a retry).
        try:
            async with once(svc, f"slack:evt:{body.get('event_id') or event.get('ts')}") as s:
                access.record_refused_entry(s, access.SLACK_INACTIVE, actor=person,
                                            caller=f"slack user {event['user']}",
                                            reason=INACTIVE)
        except Duplicate:
            return
        try:
            await client.chat_postEphemeral(channel=event["channel"], user=event["user"],
                                            text=INACTIVE)
        except SlackApiError as error:
            log.info("deactivated person not told: %s", error.response.get("error"))
        return
    first_name = person.name.split()[0] if person.name.split() else person.name
    ambassador = allowed(person, Action.OWN_RECORDS)
    text = (AMBASSADOR_MENU if ambassador else OFFICE_MENU).format(name=first_name)
    typed = (event.get("text") or "").strip()
    try:
        async with once(svc, f"slack:evt:{body.get('event_id') or event.get('ts')}") as s:
            # An ambassador's words while this week's catch-up question is open are the
            # answer (as on Telegram); otherwise they get the menu.
            answered = ambassador and typed and await reminders.do_answer_open_catch_up(
                s, svc.scheme, text=typed, actor=person, now=svc.now())
            if answered:
                await office.queue_slack_dm(s, event["user"], "catch_up_thanks", CATCH_UP_THANKS)
            else:
                await office.queue_slack_dm(s, event["user"], "slack_menu" if ambassador
                                            else "slack_help", text)
    except Duplicate:
        return
    except Refused as refusal:   # e.g. an answer too long: said to them, nothing posted
        try:
            await client.chat_postEphemeral(channel=event["channel"], user=event["user"],
                                            text=esc(refusal.sentence))
        except SlackApiError as error:
            log.info("refusal not shown: %s", error.response.get("error"))


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(publish_home)
    app.event("message")(direct_message)
