"""`python -m bot run`: the composition root. Builds the database, the Telegram application,
the web server, Slack, the outbox dispatcher and the schedules, and runs them until
SIGINT/SIGTERM.

Several of these processes may share one PostgreSQL (DESIGN §10): Telegram by webhook and Slack
by HTTP behind any load balancer. Each chat's updates take turns across processes (a lock per
chat, storage/locks.py), every process drains the outbox (rows are claimed, so each is sent
once), and the schedules run in whichever process holds the leader lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot

from bot.metrics import Metrics
from bot.settings import Settings
from bot.web import Intake, healthz, metrics_endpoint, telegram_webhook
from handlers.slack.app import build_slack_app, slack_events_handler, socket_mode_handler
from handlers.telegram.app import announce_commands, build_application
from handlers.telegram.context import Services
from handlers.telegram.media import telegram_media_intake
from handlers.telegram.polling import ConfirmingPoller
from handlers.telegram.transport import AiohttpRequest
from scheduler.dispatcher import Dispatcher, SlackSender, TelegramSender
from scheduler.mail import EmailSender
from scheduler.runner import LEADER_LOCK_KEY, ScheduleRunner
from storage import parsers
from storage.db import Database
from storage.locks import ChatLocks
from storage.media import MediaStore, PhotoProcessor
from storage.operations.people import sync_scheme
from storage.scheme import Scheme

log = logging.getLogger(__name__)

# Bounded waits on the way out (systemd's default stop timeout is 90 s).
IN_FLIGHT_SECONDS = 25.0
OUTBOX_FLUSH_SECONDS = 15.0


async def run(settings: Settings, scheme: Scheme, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    # dateparser loads its language data on first use; do it now, not for the first person.
    await asyncio.to_thread(parsers.warm_up)
    db = Database(settings.database_url)
    async with db.transaction() as session:
        await sync_scheme(session, scheme)
    closers: list[Callable[[], Awaitable[Any]]] = [db.dispose]   # run in reverse order
    processor = PhotoProcessor(MediaStore(settings.media_dir,
                                          keep_originals=scheme.retention.keep_media_originals),
                               max_bytes=scheme.limits.max_media_bytes)
    await processor.warm_up()
    closers.append(processor.aclose)
    chat_locks = ChatLocks(settings.database_url)
    closers.append(chat_locks.dispose)
    metrics = Metrics()
    services = Services(db=db, scheme=scheme, media_intake=telegram_media_intake(processor))
    services.extra["metrics"] = metrics
    application = build_application(settings.telegram_bot_token.get_secret_value(), services,
                                    api_base_url=settings.telegram_api_base_url)
    application.update_processor.cross_process_lock = (  # type: ignore[attr-defined]
        lambda chat_id: chat_locks.hold("telegram", chat_id))
    # Telegram says who the bot is (getMe) before the Slack app that prints invite links is
    # built; Application.initialize() below finds the Bot ready and does not ask again.
    await application.bot.initialize()
    services.bot_username = _bot_username(settings, application.bot.username)

    intake = Intake()
    web_app = web.Application()
    webhook_secret = (settings.telegram_webhook_secret.get_secret_value()
                      if settings.telegram_webhook_secret else "")
    if settings.telegram_webhook_url:
        web_app.router.add_post("/telegram/webhook",
                                telegram_webhook(application, webhook_secret, intake))
    slack_session, slack_socket, slack_client = None, None, None
    if settings.slack_bot_token:
        slack_token = settings.slack_bot_token.get_secret_value()
        slack_session = aiohttp.ClientSession()
        closers.append(slack_session.close)
        secret = settings.slack_signing_secret
        slack_app = build_slack_app(
            db, scheme, token=slack_token,
            signing_secret=secret.get_secret_value() if secret else "",
            api_base_url=settings.slack_api_base_url, session=slack_session,
            telegram_bot_username=services.bot_username, chart_dir=settings.media_dir / "charts",
            media_processor=processor)
        if settings.slack_app_token:   # Socket Mode: no public URL needed
            slack_socket = socket_mode_handler(slack_app,
                                               settings.slack_app_token.get_secret_value())
        else:
            web_app.router.add_post("/slack/events", _closing_with(intake,
                                                                    slack_events_handler(slack_app)))
        # The dispatcher's own client: no retry handlers, it decides what is safe to retry.
        slack_client = AsyncWebClient(token=slack_token, base_url=settings.slack_api_base_url,
                                      session=slack_session, retry_handlers=[])

    # The dispatcher's own Bot, without the handlers' reply retries: it decides itself when a
    # message is tried again (a 429 puts off that chat's queue instead of holding a send).
    dispatch_bot = Bot(settings.telegram_bot_token.get_secret_value(),
                       base_url=settings.telegram_api_base_url,
                       request=AiohttpRequest(connection_pool_size=16))
    await dispatch_bot.initialize()
    closers.append(dispatch_bot.shutdown)
    senders: dict[str, Any] = {"telegram": TelegramSender(dispatch_bot)}
    if slack_client is not None:
        senders["slack"] = SlackSender(slack_client)
    email = EmailSender.from_settings(settings)
    if email is not None:
        senders["email"] = email
    dispatcher = Dispatcher(db, scheme, senders, registry=metrics.registry,
                            lease=settings.outbox_lease_seconds)
    db.outbox_listeners.append(dispatcher.wake)
    schedules = ScheduleRunner(db, scheme, chart_dir=settings.media_dir / "charts",
                               on_outbox=dispatcher.wake)
    metrics.watch_schedules(schedules)
    web_app.router.add_get("/healthz", healthz(db, schedules=schedules,
                                               leader_lock_key=LEADER_LOCK_KEY))
    web_app.router.add_get("/metrics", metrics_endpoint(metrics))
    web_runner = web.AppRunner(web_app, access_log=None)
    dispatching: asyncio.Task[None] | None = None
    # Not PTB's Updater: it confirms updates to Telegram before handling them (a crash lost them).
    poller = None if settings.telegram_webhook_url else ConfirmingPoller(application)

    await application.initialize()
    await application.start()
    try:
        await announce_commands(application)
        if settings.telegram_webhook_url:
            await application.bot.set_webhook(settings.telegram_webhook_url,
                                              secret_token=webhook_secret or None)
        else:
            await application.bot.delete_webhook()
            await poller.start()
        dispatching = asyncio.create_task(dispatcher.run(), name="dispatcher")
        await schedules.start()
        await web_runner.setup()
        await web.TCPSite(web_runner, settings.http_host, settings.http_port).start()
        if slack_socket is not None:
            await slack_socket.connect_async()
        log.info("running: telegram by %s, slack by %s, http on %s:%s",
                 "webhook" if settings.telegram_webhook_url else "polling",
                 "socket mode" if slack_socket else ("http" if slack_client else "(not set)"),
                 settings.http_host, settings.http_port)
        await stop.wait()
    finally:
        log.info("stopping: finishing what is in flight")
        await _stop(application, intake, slack_socket, dispatcher, dispatching, schedules,
                    web_runner, poller)
        for close in reversed(closers):
            with contextlib.suppress(Exception):
                await close()
        log.info("stopped")


async def _stop(application: Any, intake: Intake, slack_socket: Any, dispatcher: Dispatcher,
                dispatching: asyncio.Task[None] | None, schedules: ScheduleRunner,
                web_runner: web.AppRunner, poller: ConfirmingPoller | None = None) -> None:
    """Stop taking updates, finish those in flight, deliver what they queued, give up the
    schedules' lock. Each wait is bounded; what is left stays in the database for next time."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if poller is not None and poller.running and not await poller.stop(IN_FLIGHT_SECONDS):
        log.warning("stopping before every fetched update was handled; Telegram will "
                    "deliver them again")
    if not await intake.close(IN_FLIGHT_SECONDS):
        log.warning("stopping with %s webhook request(s) still in flight", intake.in_flight)
    if slack_socket is not None:
        with contextlib.suppress(Exception):
            await slack_socket.close_async()
    if application.running:
        try:
            await asyncio.wait_for(application.stop(), IN_FLIGHT_SECONDS)
        except TimeoutError:
            log.warning("stopping before every queued update was handled; Telegram will "
                        "deliver them again")
    await schedules.stop()
    await dispatcher.stop()
    if dispatching is not None:
        await dispatching
        try:   # what is due now goes; what waits out a back-off stays for the next start
            async with asyncio.timeout(OUTBOX_FLUSH_SECONDS):
                while await dispatcher.run_once():
                    pass
        except Exception as error:  # noqa: BLE001 — the rows stay pending in the database
            log.warning("outbox not flushed on the way out: %s", type(error).__name__)
    with contextlib.suppress(Exception):
        await application.shutdown()
    await web_runner.cleanup()


def _bot_username(settings: Settings, from_telegram: str) -> str:
    """The name every deep link uses is the one Telegram gave; a TELEGRAM_BOT_USERNAME that
    disagrees (a copied .env, a renamed bot) is only reported."""
    configured = (settings.telegram_bot_username or "").lstrip("@")
    if configured and configured.lower() != from_telegram.lower():
        log.warning("TELEGRAM_BOT_USERNAME is %s but Telegram says the bot is %s; invite links "
                    "use %s", configured, from_telegram, from_telegram)
    return from_telegram


def _closing_with(intake: Intake, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Slack's requests while stopping get 503 (Slack retries); others count as in flight."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if not intake.open:
            return web.Response(status=503, text="stopping")
        with intake.handling():
            return await handler(request)

    return handle
