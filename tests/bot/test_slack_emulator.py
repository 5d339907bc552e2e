"""The Slack emulator, driven by the real slack_sdk client and a real slack-bolt app over loopback."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulators.slack import EmulatorUsageError, ManualClock, SlackEmulator

BOT_TOKEN = "xoxb-emulated-token"
SIGNING_SECRET = "emulated-signing-secret"
TS = re.compile(r"^\d{10}\.\d{6}$")

OFFICER = "U0OFFICER1"
AMBASSADOR = "U0AMBASS01"

APPROVAL_BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Grant for *Ludlow Youth Club*: £800"}},
    {"type": "actions", "block_id": "decide", "elements": [
        {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"},
         "value": "grant-7", "style": "primary"},
        {"type": "button", "action_id": "reject", "text": {"type": "plain_text", "text": "Reject"},
         "value": "grant-7", "style": "danger"},
    ]},
]

GRANT_MODAL = {
    "type": "modal",
    "callback_id": "grant",
    "title": {"type": "plain_text", "text": "Recommend a grant"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {"type": "input", "block_id": "amount", "label": {"type": "plain_text", "text": "Amount (£)"},
         "element": {"type": "plain_text_input", "action_id": "amount"}},
        {"type": "input", "block_id": "area", "label": {"type": "plain_text", "text": "Area"},
         "element": {"type": "static_select", "action_id": "area", "options": [
             {"text": {"type": "plain_text", "text": "Shropshire"}, "value": "shropshire"},
             {"text": {"type": "plain_text", "text": "Herefordshire"}, "value": "herefordshire"},
         ]}},
        {"type": "input", "block_id": "objectives", "optional": True,
         "label": {"type": "plain_text", "text": "Objectives"},
         "element": {"type": "checkboxes", "action_id": "objectives", "options": [
             {"text": {"type": "plain_text", "text": "Victims first"}, "value": "victims"},
             {"text": {"type": "plain_text", "text": "Reassurance"}, "value": "reassurance"},
         ]}},
        {"type": "input", "block_id": "held_on", "optional": True,
         "label": {"type": "plain_text", "text": "Held on"},
         "element": {"type": "datepicker", "action_id": "held_on"}},
    ],
}

HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*3* engagements"}}]}


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET) as emulator:
        emulator.add_user(OFFICER, "olivia", "Olivia Officer", is_admin=True)
        emulator.add_user(AMBASSADOR, "sam", "Sam Ambassador")
        emulator.add_channel("#engagements")
        emulator.add_channel("C0GRANTS01", "grants")
        yield emulator


@pytest.fixture
def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=emu.api_base_url)


def build_bolt_app(client: AsyncWebClient, seen: dict[str, Any]) -> AsyncApp:
    """A minimal office app: approve button, /ambassadors, the grant modal, App Home, DMs."""
    # Only `client=`: Bolt logs a warning when given both a client and a token.
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET)

    @app.action("approve")
    async def approve_grant(ack, body, client):
        await ack()
        await client.chat_update(channel=body["channel"]["id"], ts=body["message"]["ts"],
                                 text=f"Approved by <@{body['user']['id']}>", blocks=[])

    @app.command("/ambassadors")
    async def ambassadors_command(ack, command, client, respond):
        await ack()
        if command["text"] == "stats":
            await respond("3 engagements this week")
        else:
            await client.views_open(trigger_id=command["trigger_id"], view=GRANT_MODAL)

    @app.view("grant")
    async def record_grant(ack, view):
        values = view["state"]["values"]
        amount = int(values["amount"]["amount"]["value"])
        if amount > 1000:
            await ack(response_action="errors", errors={"amount": "Grants are up to £1,000"})
            return
        await ack()
        seen["grant"] = values

    @app.event("app_home_opened")
    async def show_home(event, client, request: AsyncBoltRequest):
        seen["retry_num"] = request.headers.get("x-slack-retry-num", [None])[0]
        await client.views_publish(user_id=event["user"], view=HOME)

    @app.action("assign")
    async def assign_follow_up(ack, action):
        seen["assigned"] = action  # before ack: the test reads it as soon as the HTTP answer is back
        await ack()

    @app.view_closed("grant")
    async def grant_abandoned(ack, body):
        seen["closed"] = body["is_cleared"]
        await ack()

    @app.message("hello")
    async def greet(message, say):
        await say(f"Hello <@{message['user']}>")

    return app


@pytest.fixture
async def seen(emu: SlackEmulator, client: AsyncWebClient) -> AsyncIterator[dict[str, Any]]:
    """Serve the Bolt app at /slack/events on its own aiohttp server, as the bot does in HTTP mode."""
    seen: dict[str, Any] = {}
    app = build_bolt_app(client, seen)

    async def slack_events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    server = web.Application()
    server.router.add_post("/slack/events", slack_events)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    emu.app_url = f"http://{host}:{port}/slack/events"
    yield seen
    await runner.cleanup()


# ------------------------------------------------------------------ Web API through slack_sdk


async def test_post_and_update_keep_the_channel_history(emu: SlackEmulator, client: AsyncWebClient):
    """Messages are stored in order under unique ts; an update keeps the earlier version."""
    first = await client.chat_postMessage(channel="#engagements", text="Pre-notified", blocks=APPROVAL_BLOCKS)
    second = await client.chat_postMessage(channel=first["channel"], text="Second")
    assert TS.match(first["ts"]) and first["ts"] != second["ts"]
    assert first["message"]["blocks"][1]["elements"][0]["action_id"] == "approve"

    await client.chat_update(channel=first["channel"], ts=first["ts"], text="Edited")
    message, _ = emu.messages("engagements")
    assert message.text == "Edited" and message.blocks == first["message"]["blocks"]  # omitted blocks kept
    assert [v.text for v in message.edits] == ["Pre-notified"] and message.from_bot

    assert [m.ts for m in emu.messages("#engagements")] == [first["ts"], second["ts"]]
    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(channel=first["channel"], ts="1.000001", text="x")
    assert refused.value.response["error"] == "message_not_found"


async def test_slack_errors_as_the_real_api(emu: SlackEmulator, client: AsyncWebClient):
    """Unknown channel, wrong token, too many blocks, long section text, archived channel."""
    async def error_of(call) -> str:
        with pytest.raises(SlackApiError) as refused:
            await call
        return refused.value.response["error"]

    assert await error_of(client.chat_postMessage(channel="#nowhere", text="x")) == "channel_not_found"
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=emu.api_base_url)
    assert await error_of(wrong.chat_postMessage(channel="#engagements", text="x")) == "invalid_auth"
    assert emu.calls[-1].response == {"ok": False, "error": "invalid_auth"} and emu.calls[-1].status == 200
    divider = {"type": "divider"}
    assert await error_of(client.chat_postMessage(channel="#engagements", text="x", blocks=[divider] * 51)) == "invalid_blocks"
    long_text = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="#engagements", text="x", blocks=[long_text])
    assert refused.value.response["error"] == "invalid_blocks"
    assert "json-pointer:/blocks/0/text/text" in refused.value.response["errors"][0]
    emu.archive_channel("#grants")
    assert await error_of(client.chat_postMessage(channel="C0GRANTS01", text="x")) == "is_archived"
    assert emu.messages("#engagements") == []


async def test_a_dm_opens_per_user_and_auth_test_names_the_bot(emu: SlackEmulator, client: AsyncWebClient):
    """conversations.open gives the user's DM with the app; auth.test the bot's own ids."""
    opened = await client.conversations_open(users=AMBASSADOR)
    dm = opened["channel"]["id"]
    assert dm.startswith("D") and emu.user(AMBASSADOR).dm_channel == dm
    await client.chat_postMessage(channel=dm, text="Feedback due")
    assert emu.messages(AMBASSADOR)[0].text == "Feedback due"
    assert (await client.auth_test())["user_id"] == emu.bot_user_id


async def test_a_method_the_app_never_calls_is_unknown(emu: SlackEmulator, client: AsyncWebClient):
    """Slack's answer to a name it has no method by: HTTP 200, unknown_method, whatever the token."""
    for method in ("foo.bar", "chat.delete", "users.info"):
        for caller in (client, AsyncWebClient(token="xoxb-wrong", base_url=emu.api_base_url)):
            with pytest.raises(SlackApiError) as refused:
                await caller.api_call(method, params={"channel": "C0GRANTS01"})
            assert refused.value.response.status_code == 200
            assert refused.value.response.data == {"ok": False, "error": "unknown_method", "req_method": method}


async def test_files_upload_v2_shares_the_file_into_the_channel(emu: SlackEmulator, client: AsyncWebClient):
    """slack_sdk's three-step upload works end to end and the bytes can be downloaded again."""
    response = await client.files_upload_v2(channel="C0GRANTS01", content=b"\xff\xd8 photo bytes",
                                            filename="hall.jpg", title="Village hall",
                                            initial_comment="Photos from Ludlow")
    assert response["file"]["title"] == "Village hall"
    message = emu.last_message("#grants")
    assert message.text == "Photos from Ludlow" and message.files[0]["name"] == "hall.jpg"
    async with aiohttp.ClientSession() as session:
        async with session.get(message.files[0]["url_private"]) as anonymous:
            assert anonymous.status == 403  # Slack serves files only with a token
        async with session.get(message.files[0]["url_private"],
                               headers={"Authorization": f"Bearer {emu.bot_token}"}) as download:
            assert await download.read() == b"\xff\xd8 photo bytes"
            assert download.content_type == "image/jpeg"


async def test_views_open_needs_a_fresh_unused_trigger(emu: SlackEmulator, client: AsyncWebClient):
    """A trigger_id works once, within three seconds."""
    emu.clock = clock = ManualClock()
    trigger = emu.issue_trigger(AMBASSADOR)
    clock.advance(2.9)
    opened = await client.views_open(trigger_id=trigger, view=GRANT_MODAL)
    view = opened["view"]
    assert view["id"].startswith("V") and view["hash"] and view["state"] == {"values": {
        "amount": {"amount": {"type": "plain_text_input", "value": None}},
        "area": {"area": {"type": "static_select", "selected_option": None}},
        "objectives": {"objectives": {"type": "checkboxes", "selected_options": []}},
        "held_on": {"held_on": {"type": "datepicker", "selected_date": None}},
    }}
    assert [v.id for v in emu.views(AMBASSADOR)] == [view["id"]]

    for stale, error in ((trigger, "exchanged_trigger_id"), (emu.issue_trigger(AMBASSADOR), "expired_trigger_id")):
        clock.advance(3.1)
        with pytest.raises(SlackApiError) as refused:
            await client.views_open(trigger_id=stale, view=GRANT_MODAL)
        assert refused.value.response["error"] == error
    long_title = {**GRANT_MODAL, "title": {"type": "plain_text", "text": "A title longer than 24 chars"}}
    with pytest.raises(SlackApiError) as refused:
        await client.views_open(trigger_id=emu.issue_trigger(AMBASSADOR), view=long_title)
    assert refused.value.response["error"] == "invalid_arguments"


# ------------------------------------------------------------------ acting as a user towards Bolt


async def test_click_is_acked_and_the_app_updates_the_message(emu: SlackEmulator, client: AsyncWebClient,
                                                              seen: dict[str, Any]):
    """A button press reaches the Bolt listener, which acks and edits the message."""
    posted = await client.chat_postMessage(channel="#grants", text="Grant", blocks=APPROVAL_BLOCKS)
    message = emu.last_message("#grants")
    assert emu.buttons(message) == [("Approve", "approve", "grant-7"), ("Reject", "reject", "grant-7")]

    response = await emu.click(OFFICER, message, action_id="approve")
    assert response.status == 200
    await emu.wait_for(lambda: message.text == f"Approved by <@{OFFICER}>")
    assert message.blocks == [] and message.ts == posted["ts"] and len(message.edits) == 1

    with pytest.raises(EmulatorUsageError, match="no element action_id='refer'.*buttons"):
        await emu.click(OFFICER, message, action_id="refer")


async def test_a_select_pick_and_closing_a_modal_reach_the_app(emu: SlackEmulator, client: AsyncWebClient,
                                                                seen: dict[str, Any]):
    """A users_select pick arrives as selected_user; closing a notify_on_close modal sends view_closed."""
    await client.chat_postMessage(channel="#engagements", text="Follow-up", blocks=[
        {"type": "section", "block_id": "follow_up", "text": {"type": "mrkdwn", "text": "Follow-up #4"},
         "accessory": {"type": "users_select", "action_id": "assign",
                       "placeholder": {"type": "plain_text", "text": "Assign to"}}}])
    await emu.click(OFFICER, emu.last_message("#engagements"), "assign", selected_user=AMBASSADOR)
    assert seen["assigned"]["selected_user"] == AMBASSADOR and seen["assigned"]["block_id"] == "follow_up"

    await client.views_open(trigger_id=emu.issue_trigger(OFFICER), view={**GRANT_MODAL, "notify_on_close": True})
    closed = await emu.close_view(OFFICER)
    assert closed is not None and closed.status == 200
    assert emu.views(OFFICER) == [] and seen["closed"] is False


async def test_slash_command_opens_modal_in_time_and_submission_errors_show(emu: SlackEmulator,
                                                                            seen: dict[str, Any]):
    """/ambassadors opens the grant modal; £5,000 is refused field by field; £800 closes it."""
    response = await emu.slash_command(AMBASSADOR, "/ambassadors", "grant", channel="#engagements")
    assert response.status == 200
    (view,) = await emu.wait_for(lambda: emu.views(AMBASSADOR))
    assert emu.calls_to("views.open")[-1].ok  # opened within the trigger's 3 seconds

    refused = await emu.submit_view(AMBASSADOR, view.id, {"amount": {"amount": "5000"}, "area": "shropshire"})
    assert refused.errors == {"amount": "Grants are up to £1,000"} and refused.problems == []
    assert emu.views(AMBASSADOR) == [view] and view.errors == refused.errors

    with pytest.raises(EmulatorUsageError, match="required input 'area'"):
        await emu.submit_view(AMBASSADOR, view.id, {"amount": "800", "area": None})
    accepted = await emu.submit_view(AMBASSADOR, view.id, {
        "amount": "800", "area": {"area": "herefordshire"}, "objectives": ["victims"], "held_on": "2025-03-14"})
    assert accepted.status == 200 and accepted.errors == {}
    assert emu.views(AMBASSADOR) == [] and view.closed
    values = seen["grant"]
    assert values["area"]["area"]["selected_option"]["value"] == "herefordshire"
    assert values["objectives"]["objectives"]["selected_options"][0]["value"] == "victims"
    assert values["held_on"]["held_on"] == {"type": "datepicker", "selected_date": "2025-03-14"}


async def test_respond_through_response_url_is_ephemeral(emu: SlackEmulator, seen: dict[str, Any]):
    """`respond()` posts to the emulator's response_url; the user alone sees the answer."""
    await emu.slash_command(OFFICER, "/ambassadors", "stats", channel="#engagements")
    (shown,) = await emu.wait_for(lambda: emu.ephemerals(OFFICER))
    assert shown.text == "3 engagements this week" and shown.channel == emu.channel("#engagements").id
    assert emu.messages("#engagements") == []


async def test_forged_and_stale_requests_get_401_from_bolt(emu: SlackEmulator, seen: dict[str, Any]):
    """Bolt refuses a bad signature, a missing one and a timestamp ten minutes old."""
    for forgery in ({"bad_signature": True}, {"sign": False}, {"timestamp_offset": -600}):
        response = await emu.slash_command(OFFICER, "/ambassadors", "stats", **forgery)
        assert response.status == 401, forgery
    assert emu.ephemerals(OFFICER) == []


async def test_redelivery_header_reaches_the_app_and_home_is_published(emu: SlackEmulator,
                                                                       seen: dict[str, Any]):
    """An Events API redelivery carries X-Slack-Retry-Num; the listener publishes the App Home."""
    response = await emu.send_event(OFFICER, {"type": "app_home_opened"}, retry_num=1)
    assert response.status == 200
    home = await emu.wait_for(lambda: emu.home(OFFICER))
    assert home.blocks[0]["text"]["text"] == "*3* engagements" and seen["retry_num"] == "1"


async def test_dm_reaches_the_app_and_url_verification(emu: SlackEmulator, seen: dict[str, Any]):
    """A DM is a message.im event the app answers in the DM; the Request URL check echoes."""
    await emu.send_dm(AMBASSADOR, "hello there")
    reply = await emu.wait_for(lambda: emu.last_message(AMBASSADOR).from_bot and emu.last_message(AMBASSADOR))
    assert reply.text == f"Hello <@{AMBASSADOR}>"
    assert [m.user for m in emu.messages(AMBASSADOR)] == [AMBASSADOR, emu.bot_user_id]
    checked = await emu.url_verification("abc123")
    assert checked.status == 200 and checked.data == {"challenge": "abc123"}


# ------------------------------------------------------------------ faults and the control endpoints


async def test_faults_rate_limit_server_error_and_hang(emu: SlackEmulator, client: AsyncWebClient):
    """429 carries Retry-After (slack_sdk's handler retries it); 500 is an error page; hang delays."""
    emu.faults.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="#engagements", text="x")
    assert limited.value.response.status_code == 429 and limited.value.response.headers["Retry-After"] == "7"

    emu.faults.rate_limit("chat.postMessage", retry_after=0)
    patient = AsyncWebClient(token=BOT_TOKEN, base_url=emu.api_base_url,
                             retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    await patient.chat_postMessage(channel="#engagements", text="delivered")
    assert [c.status for c in emu.calls_to("chat.postMessage")] == [429, 429, 200]

    emu.faults.fail(times=1)
    with pytest.raises(SlackApiError) as failed:
        await client.auth_test()
    assert failed.value.response.status_code == 500

    emu.faults.hang("chat.postMessage", seconds=0.3)
    hasty = AsyncWebClient(token=BOT_TOKEN, base_url=emu.api_base_url, timeout=0.1)
    with pytest.raises(asyncio.TimeoutError):
        await hasty.chat_postMessage(channel="#engagements", text="slow")
    # Slack posted it anyway: the timed-out client must not assume it was lost.
    await emu.wait_for(lambda: emu.last_message("#engagements").text == "slow")


async def test_control_endpoints_and_event_stream(emu: SlackEmulator, client: AsyncWebClient,
                                                  seen: dict[str, Any]):
    """The sandbox page lists messages, presses buttons as a user, and hears changes as SSE."""
    async with aiohttp.ClientSession(base_url=emu.url) as page:
        async with page.get("/_emulator/events") as stream:
            assert await stream.content.readline() == b": connected\n"
            await client.chat_postMessage(channel="#grants", text="Grant", blocks=APPROVAL_BLOCKS)
            event = await read_sse(stream)
            assert event["type"] == "message" and event["action"] == "new"
            ts = event["message"]["ts"]

            async with page.get("/_emulator/channels/grants/messages") as listed:
                assert [m["ts"] for m in await listed.json()] == [ts]
            async with page.post("/_emulator/click", json={"user": OFFICER, "channel": "#grants", "ts": ts,
                                                          "action_id": "approve"}) as clicked:
                assert (await clicked.json())["status"] == 200
            updated = await read_sse(stream)
            assert updated["action"] == "updated" and updated["message"]["text"].startswith("Approved")

            async with page.post("/_emulator/click", json={"user": OFFICER, "channel": "#grants", "ts": ts,
                                                          "action_id": "missing"}) as wrong:
                assert wrong.status == 400 and "no element" in (await wrong.json())["error"]
            async with page.get("/_emulator/channels") as channels:
                assert {"engagements", "grants"} <= {c["name"] for c in await channels.json()}


async def read_sse(stream: aiohttp.ClientResponse) -> dict[str, Any]:
    """The next server-sent event's JSON data."""
    async with asyncio.timeout(5):
        while True:
            line = (await stream.content.readline()).decode()
            if line.startswith("data: "):
                return json.loads(line[6:])
