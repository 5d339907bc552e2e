"""`python -m bot run`: the composition root. Builds the database, the Telegram application,
the web server and (when present) Slack, the dispatcher and the scheduler, and runs them
until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

import aiohttp
from aiohttp import web

from bot.settings import Settings
from bot.metrics import Metrics
from bot.web import healthz, metrics_endpoint, telegram_webhook
from handlers.slack.app import build_slack_app, slack_events_handler, socket_mode_handler
from handlers.telegram.app import announce_commands, build_application
from handlers.telegram.context import Services
from handlers.telegram.media import telegram_media_intake
from storage import parsers
from storage.db import Database
from storage.media import MediaStore, PhotoProcessor
from storage.operations.people import sync_scheme
from storage.scheme import Scheme

log = logging.getLogger(__name__)


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
    processor = PhotoProcessor(MediaStore(settings.media_dir,
                                          keep_originals=scheme.retention.keep_media_originals),
                               max_bytes=scheme.limits.max_media_bytes)
    services = Services(db=db, scheme=scheme, media_intake=telegram_media_intake(processor))
    token = settings.telegram_bot_token.get_secret_value()
    application = build_application(token, services,
                                    api_base_url=settings.telegram_api_base_url)
    web_app = web.Application()
    metrics = Metrics()
    services.extra["metrics"] = metrics
    web_app.router.add_get("/healthz", healthz(db))
    web_app.router.add_get("/metrics", metrics_endpoint(metrics))
    webhook_secret = (settings.telegram_webhook_secret.get_secret_value()
                      if settings.telegram_webhook_secret else "")
    if settings.telegram_webhook_url:
        web_app.router.add_post("/telegram/webhook", telegram_webhook(application,
                                                                      webhook_secret))
    # Slack: HTTP mode at /slack/events (signature-checked by Bolt), or Socket Mode.
    slack_session = aiohttp.ClientSession() if settings.slack_bot_token else None
    slack_socket = None
    if slack_session is not None:
        secret = settings.slack_signing_secret
        slack_app = build_slack_app(
            db, scheme, token=settings.slack_bot_token.get_secret_value(),
            signing_secret=secret.get_secret_value() if secret else "",
            api_base_url=settings.slack_api_base_url, session=slack_session,
            telegram_bot_username=services.bot_username, chart_dir=settings.media_dir / "charts")
        if settings.slack_app_token:
            slack_socket = socket_mode_handler(slack_app,
                                               settings.slack_app_token.get_secret_value())
        else:
            web_app.router.add_post("/slack/events", slack_events_handler(slack_app))
    runner = web.AppRunner(web_app, access_log=None)
    await application.initialize()
    await application.start()
    try:
        await announce_commands(application)
        if settings.telegram_webhook_url:
            await application.bot.set_webhook(settings.telegram_webhook_url,
                                              secret_token=webhook_secret or None)
        else:
            await application.bot.delete_webhook()
            await application.updater.start_polling(poll_interval=0, timeout=20)
        await runner.setup()
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        await site.start()
        if slack_socket is not None:
            await slack_socket.connect_async()
        log.info("running: telegram by %s, http on %s:%s",
                 "webhook" if settings.telegram_webhook_url else "polling",
                 settings.http_host, settings.http_port)
        await stop.wait()
    finally:
        log.info("stopping")
        if application.updater.running:
            await application.updater.stop()
        await application.stop()
        await application.shutdown()
        await runner.cleanup()
        if slack_socket is not None:
            await slack_socket.close_async()
        if slack_session is not None:
            await slack_session.close()
        await processor.aclose()
        await db.dispose()
