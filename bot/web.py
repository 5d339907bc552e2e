"""The one aiohttp server (DESIGN §10): /telegram/webhook, /slack/events, /healthz, /metrics."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import text
from telegram import Update
from telegram.ext import Application

from bot.metrics import Metrics
from storage.db import Database
from storage.operations import access

log = logging.getLogger(__name__)
MAX_UPDATE_BYTES = 1_000_000


def telegram_webhook(application: Application, secret: str) -> Callable[
        [web.Request], Awaitable[web.Response]]:
    """Telegram's POSTs: the secret header must match, or nothing is processed (403)."""

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("telegram webhook refused: wrong or missing secret")
            await _audit_refused_webhook(application, request)
            return web.Response(status=403, text="forbidden")
        if (request.content_length or 0) > MAX_UPDATE_BYTES:
            return web.Response(status=413, text="too large")
        try:
            data = json.loads(await request.read())
            update = Update.de_json(data, application.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400, text="not an update")
        await application.update_queue.put(update)
        return web.Response(text="ok")

    return receive


async def _audit_refused_webhook(application: Application, request: web.Request) -> None:
    """The refusal is audited (who called, never what they sent); a failure to audit is only
    logged: the caller is refused either way."""
    services = application.bot_data.get("services")
    if services is None:
        return
    try:
        async with services.db.transaction() as s:
            access.record_refused_entry(s, access.WEBHOOK_SECRET, caller=request.remote or "?",
                                        reason="wrong or missing webhook secret")
    except Exception as error:  # noqa: BLE001 — the 403 stands whatever happened here
        log.warning("could not audit a refused webhook call: %s", type(error).__name__)


def healthz(db: Database) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def check(request: web.Request) -> web.Response:
        try:
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as error:  # noqa: BLE001 — any failure means unhealthy, said plainly
            return web.json_response({"ok": False, "reason": f"database unreachable: "
                                      f"{type(error).__name__}"}, status=503)
        return web.json_response({"ok": True})

    return check


def metrics_endpoint(metrics: Metrics) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        body, content_type = metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    return serve
