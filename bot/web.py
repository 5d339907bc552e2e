"""The one aiohttp server (DESIGN §10): /telegram/webhook, /slack/events, /healthz, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web
from sqlalchemy import text
from telegram import Update
from telegram.ext import Application

from bot.metrics import Metrics
from handlers.telegram.app import handle_update
from storage.db import Database
from storage.models import utcnow
from storage.operations import access
from storage.operations import health

log = logging.getLogger(__name__)
MAX_UPDATE_BYTES = 1_000_000


class Intake:
    """Whether this process still takes updates, and how many it is handling now. SIGTERM
    closes it: Telegram and Slack are then told 503 and deliver again (to another worker, or
    to this one after its restart), while what is in flight finishes."""

    def __init__(self) -> None:
        self.open = True
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        self.in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()

    async def close(self, timeout: float) -> bool:
        """Stop taking updates; wait up to `timeout` s for those in flight. True if all done."""
        self.open = False
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


def telegram_webhook(application: Application, secret: str, intake: Intake | None = None
                     ) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Telegram's POSTs: the secret header must match, or nothing is processed (403).

    The update is handled before the answer: Telegram sends a chat's next update only after
    this one is answered, so with several workers behind a load balancer one person's messages
    are still handled in the order they were sent (with the chat's lock across processes, see
    storage/locks.py). The rule is `handlers.telegram.app.handle_update`'s: an update whose
    handling failed on an infrastructure fault (the database away) answers 500 and Telegram
    delivers it again (the update's key makes a second delivery harmless); one that failed on
    a bug or bad input was answered with a sentence and answers 200, so Telegram does not
    deliver it again and again.
    """
    intake = intake or Intake()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("telegram webhook refused: wrong or missing secret")
            await _audit_refused_webhook(application, request)
            return web.Response(status=403, text="forbidden")
        if (request.content_length or 0) > MAX_UPDATE_BYTES:
            return web.Response(status=413, text="too large")
        if not intake.open:
            return web.Response(status=503, text="stopping")
        try:
            data = json.loads(await request.read())
            update = Update.de_json(data, application.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400, text="not an update")
        with intake.handling():
            try:
                handled = await handle_update(application, update)
            except Exception:  # noqa: BLE001 — answered 500 so that Telegram delivers it again
                log.exception("telegram update %s failed", update.update_id)
                handled = False
        if not handled:
            return web.Response(status=500, text="failed; deliver it again")
        return web.Response(text="ok")

    return receive


async def _audit_refused_webhook(application: Application, request: web.Request) -> None:
    """The refusal is audited (who called, never what they sent); a failure to audit is only
    logged: the caller is refused either way."""
    services = application.bot_data.get("services")
    if services is None:
        return
    await access.audit_refused_request(services.db, access.WEBHOOK_SECRET,
                                       caller=request.remote or "?",
                                       reason="wrong or missing webhook secret")


# The oldest due outbox message may wait this long before the process reports itself unhealthy.
MAX_OUTBOX_LAG_SECONDS = 300.0
HEALTH_TIMEOUT_SECONDS = 5.0


def healthz(db: Database, *, schedules: Any = None, leader_lock_key: int | None = None,
            max_outbox_lag: float = MAX_OUTBOX_LAG_SECONDS,
            timeout: float = HEALTH_TIMEOUT_SECONDS,
            clock: Callable[[], dt.datetime] = utcnow,
            ) -> Callable[[web.Request], Awaitable[web.Response]]:
    """200 when the database answers, the outbox is keeping up and some process leads the
    schedules; otherwise 503 with the reason. A database that hangs is a 503 after `timeout`.
    The outbox keeps up when no undelivered message was queued more than `max_outbox_lag`
    seconds ago (`clock` is the dispatcher's idea of now)."""

    async def check(request: web.Request) -> web.Response:
        report: dict[str, Any] = {"ok": True}
        try:
            async with asyncio.timeout(timeout):
                async with db.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
                    report["outbox_lag_seconds"] = round(
                        await health.outbox_lag_seconds(conn, now=clock()), 1)
                    report["scheduler_leader"] = await _leader(conn)
        except TimeoutError:
            return _unhealthy(report, f"database did not answer within {timeout:g} s")
        except Exception as error:  # noqa: BLE001 — any failure means unhealthy, said plainly
            return _unhealthy(report, f"database unreachable: {type(error).__name__}")
        if report["outbox_lag_seconds"] > max_outbox_lag:
            return _unhealthy(report, f"outbox: a message has waited "
                                      f"{report['outbox_lag_seconds']:.0f} s to be sent")
        if report["scheduler_leader"] == "none":
            return _unhealthy(report, "schedules: no process is leading them")
        return web.json_response(report)

    async def _leader(conn: Any) -> str:
        if schedules is None:
            return "not run by this process"
        if schedules.is_leader:
            return "this process"
        if db.dialect == "postgresql" and leader_lock_key is not None:
            holder = await health.advisory_lock_holder(conn, leader_lock_key)
            if holder is not None:   # this process between taking the lock and leading
                return "this process" if holder == schedules.lock_backend_pid \
                    else "another process"
        return "none"

    return check


def _unhealthy(report: dict[str, Any], reason: str) -> web.Response:
    report.update(ok=False, reason=reason)
    return web.json_response(report, status=503)


def metrics_endpoint(metrics: Metrics) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        body, content_type = metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    return serve
