"""Builds the python-telegram-bot Application for the ambassadors' conversations."""

from __future__ import annotations

import logging
import time

from telegram import BotCommand, Update
from telegram.ext import (AIORateLimiter, Application, ApplicationBuilder, ContextTypes,
                          TypeHandler)

from handlers import log_context
from handlers.telegram.context import Ctx, Services
from handlers.telegram.ordering import ChatOrderedProcessor
from handlers.telegram.retries import ReplyRetries
from handlers.telegram.router import on_update
from handlers.telegram.transport import AiohttpRequest
from storage.models import utcnow

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("menu", "Everything you can do"),
    BotCommand("prenotify", "Tell the office about an upcoming engagement"),
    BotCommand("feedback", "Write up an engagement"),
    BotCommand("photos", "Send photos or video from an engagement"),
    BotCommand("grant", "Recommend a community grant"),
    BotCommand("hours", "Log your hours"),
    BotCommand("expenses", "Claim expenses"),
    BotCommand("mine", "Your engagements, grants and hours"),
    BotCommand("away", "Pause reminders while you're away"),
    BotCommand("cancel", "Stop what you're doing"),
    BotCommand("help", "How this works"),
]


def file_base_url(api_base_url: str) -> str:
    """Telegram serves files at /file/bot<token>/ beside /bot<token>/."""
    base = api_base_url.rstrip("/")
    return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"


async def announce_commands(application: Application) -> None:
    """The command menu people see in Telegram; set at every start so it matches the code.
    (PTB's post_init only runs under run_polling/run_webhook, which we don't use.)"""
    await application.bot.set_my_commands(COMMANDS)


def build_application(token: str, services: Services, *,
                      api_base_url: str = "https://api.telegram.org/bot",
                      api_file_url: str | None = None, concurrency: int = 16, rate_limit: bool = False,
                      set_commands: bool = True) -> Application:
    """The Application with one entry handler (the router) and per-chat ordering."""
    builder = (ApplicationBuilder().token(token).base_url(api_base_url)
               .base_file_url(api_file_url or file_base_url(api_base_url))
               .context_types(ContextTypes(context=Ctx))
               .concurrent_updates(ChatOrderedProcessor(concurrency))
               # aiohttp rather than PTB's httpx: a third of the CPU per Bot API call.
               .request(AiohttpRequest(connection_pool_size=concurrency + 8))
               .get_updates_request(AiohttpRequest(connection_pool_size=2)))
    # Without the rate limiter, replies Telegram refused for now (429, 5xx) are sent again.
    builder = builder.rate_limiter(AIORateLimiter(max_retries=3) if rate_limit
                                   else ReplyRetries())
    application = builder.build()
    application.bot_data["services"] = services
    # Updates handled before this moment were handled by an earlier run (router.py asks their
    # question again when Telegram delivers one of them once more).
    application.bot_data["started_at"] = utcnow()
    application.add_handler(TypeHandler(Update, measured_update))
    application.add_error_handler(_on_error)
    return application


def update_kind(update: Update) -> str:
    if update.callback_query is not None:
        return "button"
    message = update.effective_message
    if message is None:
        return "other"
    if message.text:
        return "command" if message.text.startswith("/") else "text"
    return "media" if (message.photo or message.video or message.document) else "other"


async def measured_update(update: Update, context: Ctx) -> None:
    """The router, counted and timed for /metrics when the process keeps metrics."""
    metrics = context.services.extra.get("metrics")
    with log_context.handling(f"tg-{update.update_id}"):
        if metrics is None:
            await on_update(update, context)
            return
        started = time.perf_counter()
        try:
            await on_update(update, context)
        finally:
            metrics.updates.labels(kind=update_kind(update)).inc()
            metrics.latency.observe(time.perf_counter() - started)


# Not "nothing is lost": when the database is down, what they sent may not have been saved.
SORRY = ("Sorry — something went wrong on my side. Please try again in a moment: if I "
         "haven't answered what you sent, send it again; /menu shows where you are.")


async def _on_error(update: object, context: Ctx) -> None:
    """Log the failure (never the message body) and tell the person in one sentence."""
    log.error("handling update failed: %s", type(context.error).__name__,
              exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            if update.callback_query is not None:
                await update.callback_query.answer()
            await update.effective_chat.send_message(
                SORRY)
        except Exception:  # noqa: BLE001 — the error path must not raise again
            log.warning("could not tell the person about the failure")
