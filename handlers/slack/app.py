"""Builds the slack-bolt AsyncApp for the office and for ambassadors in Slack DMs.

HTTP mode: bot/runner.py mounts `slack_events_handler(app)` at POST /slack/events. Its door
(handlers/slack/door.py) verifies every request before Bolt sees it: one not verified, for
whatever reason, gets 401, is audited and runs nothing — no listener, no error handler, no
call to Slack or to a response_url — so every body a listener or `_on_error` reads was signed
by Slack. A verified body Slack would never send gets 400.
Socket Mode: `socket_mode_handler(app, app_token)` when SLACK_APP_TOKEN is set (its requests
come over the connection Slack opened with the app token, so they need no signature).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from handlers import log_context
from handlers.slack import door
from handlers.slack.context import SORRY, SlackServices, action_key, view_key
from handlers.slack.listeners import register_listeners
from handlers.slack.media import slack_media_intake
from handlers.slack.render import register_all
from storage.db import Database
from storage.errors import Conflict
from storage.media import PhotoProcessor
from storage.models import utcnow
from storage.operations import access, updates
from storage.scheme import Scheme

log = logging.getLogger(__name__)
DEFAULT_API_BASE_URL = "https://slack.com/api/"
MAX_REQUEST_BYTES = 1_000_000
_SERVICES: weakref.WeakKeyDictionary[AsyncApp, SlackServices] = weakref.WeakKeyDictionary()
_VERIFIERS: weakref.WeakKeyDictionary[AsyncApp, SignatureVerifier | None] = \
    weakref.WeakKeyDictionary()


def build_slack_app(db: Database, scheme: Scheme, *, token: str, signing_secret: str,
                    api_base_url: str = DEFAULT_API_BASE_URL,
                    clock: Callable[[], dt.datetime] = utcnow,
                    session: aiohttp.ClientSession | None = None,
                    telegram_bot_username: str,
                    chart_dir: Path | None = None,
                    media_processor: PhotoProcessor | None = None) -> AsyncApp:
    """The app with every listener registered. Pass one shared aiohttp `session` (made in
    bot/, closed there on stop) so the Web API client reuses its connections;
    `telegram_bot_username` is the bot's real username (Telegram's getMe, read in bot/), which
    every invite link names; `chart_dir`
    is where "digest now" writes its chart (the digest's default when None);
    `media_processor` (storage/media's, shared with Telegram) lets ambassadors send photos
    from Slack too (without it the Photos form points them to Telegram)."""
    client = AsyncWebClient(token=token, base_url=api_base_url, session=session)
    # Only `client=`: Bolt warns when given both a client and a token.
    app = AsyncApp(client=client, signing_secret=signing_secret)
    svc = SlackServices(db=db, scheme=scheme, clock=clock,
                        telegram_bot_username=telegram_bot_username,
                        extra={"chart_dir": chart_dir})
    if media_processor is not None:
        svc.extra["media_intake"] = slack_media_intake(media_processor, client, session)

    async def attach_services(context: Any, next: Callable[[], Awaitable[Any]]) -> Any:
        context["services"] = svc
        with log_context.handling(f"slack-{uuid.uuid4().hex[:12]}"):
            return await next()

    # The dispatcher (scheduler/) sends the office's posts with these renderers.
    register_all(scheme.timezone)
    app.use(attach_services)
    app.use(_drop_repeats)
    _SERVICES[app] = svc
    _VERIFIERS[app] = door.verifier_for(signing_secret)
    app.error(_on_error)
    register_listeners(app)
    return app


def request_key(body: dict[str, Any]) -> str | None:
    """What names one request across Slack's retries of it (they carry the same body)."""
    kind = body.get("type")
    if kind == "block_actions":
        return action_key(body)
    if kind == "view_submission":
        return view_key(body.get("view") or {})
    if kind == "event_callback":
        return f"slack:evt:{body.get('event_id', '')}"
    if body.get("command") and body.get("trigger_id"):
        return f"slack:cmd:{body['trigger_id']}"
    return None


async def _drop_repeats(body: dict[str, Any], req: Any, context: Any,
                        next: Callable[[], Awaitable[Any]]) -> Any:
    """Slack delivers a request again (X-Slack-Retry-Num) when it thinks the first went
    unanswered. Every first delivery is noted on arrival, so a retry of one that arrived is
    acknowledged and dropped: its effect is recorded already (or in hand), and its answer —
    a refusal, a list, a modal — was given once. A view submission is the exception: Slack
    shows the person the answer to the retry, so it runs again, and its records stay single
    because the submission's own key is stored with them."""
    key = request_key(body)
    if key is None:
        return await next()
    svc: SlackServices = context["services"]
    arrived = f"slack:in:{key}"[:120]
    retry = bool((req.headers or {}).get("x-slack-retry-num"))
    try:
        async with svc.db.transaction() as s:
            await updates.mark_processed(s, arrived)
    except Conflict:
        if retry and body.get("type") != "view_submission":
            return BoltResponse(status=200, body="")
    return await next()


async def _on_error(error: Exception, body: dict[str, Any], context: Any) -> None:
    """Log what failed (never the body: it holds what people wrote) and tell the person. Only
    a request the door verified gets this far, so the response_url is one Slack gave."""
    log.error("slack listener failed: %s", type(error).__name__, exc_info=error)
    respond = context.get("respond") if context else None
    if respond is not None and isinstance(body, dict) and body.get("response_url"):
        try:
            await respond(text=SORRY, response_type="ephemeral", replace_original=False)
        except Exception:  # noqa: BLE001 — the error path must not raise again
            log.warning("could not tell the person about the failure")


def slack_events_handler(app: AsyncApp) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler for POST /slack/events (events, interactivity and commands)."""

    async def receive(request: web.Request) -> web.Response:
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            return web.Response(status=413, text="too large")
        body = await request.read()
        why = door.unverified(_VERIFIERS.get(app), body, request.headers)
        if why is not None:
            return await _refuse_unverified(app, request, why)
        problem = door.malformed(body, request.content_type)
        if problem is None:
            try:
                bolt_request = AsyncBoltRequest(body=body.decode("utf-8"),
                                                query=request.query_string,
                                                headers=request.headers)  # type: ignore[arg-type]
            except Exception as error:  # noqa: BLE001 — Bolt could not read what Slack signed
                problem = f"Bolt could not read it ({type(error).__name__})"
        if problem is not None:
            log.warning("slack request refused (400): %s", problem)
            return web.Response(status=400, text="malformed request")
        bolt_response = await app.async_dispatch(bolt_request)
        if bolt_response.status == 401:  # Bolt's own check, a moment after ours, disagreed
            await _audit_unverified(app, request, "Bolt refused the signature or timestamp")
        return await to_aiohttp_response(bolt_response)

    return receive


async def _refuse_unverified(app: AsyncApp, request: web.Request, why: str) -> web.Response:
    """401, audited, and nothing else: not a byte of the body is read past the signature."""
    log.warning("slack request refused (401): %s", why)
    await _audit_unverified(app, request, why)
    return web.Response(status=401, text="unverified request")


async def _audit_unverified(app: AsyncApp, request: web.Request, why: str) -> None:
    """A request that failed Slack's signature check is audited (where it came from and why,
    never its body); failing to audit is only logged: the request is refused either way."""
    svc = _SERVICES.get(app)
    if svc is None:
        return
    await access.audit_refused_request(svc.db, access.SLACK_UNSIGNED,
                                       caller=request.remote or "?",
                                       reason=f"Slack request not verified: {why}")


def socket_mode_handler(app: AsyncApp, app_token: str) -> Any:
    """Socket Mode (SLACK_APP_TOKEN): `await handler.connect_async()` / `close_async()`."""
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
    return AsyncSocketModeHandler(app, app_token)
