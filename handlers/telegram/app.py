"""Builds the python-telegram-bot Application for the ambassadors' conversations."""

from __future__ import annotations

import contextlib
import logging
import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (AIORateLimiter, Application, ApplicationBuilder,
                          ApplicationHandlerStop, ContextTypes, TypeHandler)

from handlers import log_context
from handlers.telegram import once
from handlers.telegram.context import Ctx, Services
from handlers.telegram.ordering import ChatOrderedProcessor
from handlers.telegram.retries import ReplyRetries
from handlers.telegram.router import on_update
from handlers.telegram.transport import AiohttpRequest
from storage.models import utcnow
from storage.operations.updates import Repeat

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
    """The Application with one entry handler (the router) between the two looks that make
    each update handled once (once.py), and per-chat ordering."""
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
    application.add_handler(TypeHandler(Update, once.first_look), group=once.FIRST)
    application.add_handler(TypeHandler(Update, measured_update))
    application.add_handler(TypeHandler(Update, once.last_look), group=once.LAST)
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
        try:
            await on_update(update, context)
        finally:
            metrics.updates.labels(kind=update_kind(update)).inc()
            # From the first look (its read is most of an update's database time).
            metrics.latency.observe(time.perf_counter() - context.handling.started)


# Not "nothing is lost": when the database is down, what they sent may not have been saved.
SORRY = ("Sorry — something went wrong on my side. Please try again in a moment: if I "
         "haven't answered what you sent, send it again; /menu shows where you are.")
# An infrastructure fault: the update is not confirmed and will be handled again by itself.
DELAYED = ("Sorry — I can't reach my records just now. I've kept what you sent and will "
           "answer as soon as I can; there's no need to send it again.")
# Faults of the machinery, not of the update: the same update handled again later succeeds.
# (Not DBAPIError as a whole: an IntegrityError or a DataError is a bug or bad input, and
# would fail again for ever.)
INFRASTRUCTURE = (OperationalError, InterfaceError, PoolTimeout, TimeoutError, ConnectionError)
_FAULTS = "infrastructure_faults"


def infrastructure_fault(error: BaseException | None) -> bool:
    """Whether `error` (or what caused it) is the database or the network being away."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, INFRASTRUCTURE) or (
                isinstance(error, DBAPIError) and error.connection_invalidated):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


async def handle_update(application: Application, update: Update) -> bool:
    """Handle one update as PTB does (its update processor, so one chat's updates stay in
    order), and say whether it may be confirmed to Telegram.

    The rule, for both transports: an update whose handling failed on an infrastructure fault
    (the database unreachable or timing out) returns False — the poller does not confirm it and
    tries it again; the webhook answers 500 and Telegram delivers it again. Anything else —
    handled, refused, or failed on a bug or bad input in that one update — returns True: the
    person has been answered with a sentence (`_on_error`) and the update is confirmed, so one
    poisoned update cannot hold up the queue for ever. (PTB's `process_update` hands a
    handler's exception to the error handlers and does not raise it; `_on_error` notes an
    infrastructure fault for this to read.)"""
    faults: dict[int, BaseException] = application.bot_data.setdefault(_FAULTS, {})
    faults.pop(update.update_id, None)
    await application.update_processor.process_update(update,
                                                      application.process_update(update))
    if faults.pop(update.update_id, None) is not None:
        return False
    application.bot_data.get("told_delayed", set()).discard(update.update_id)
    return True


async def _on_error(update: object, context: Ctx) -> None:
    """A failed update stops here: its handler groups go no further, so it is not recorded as
    handled (once.last_look does not run) and its next delivery is handled afresh. A repeat
    found only as its change was written (another delivery recorded it first) says nothing."""
    if isinstance(context.error, Repeat):
        log.info("update %s was handled by another delivery of it",
                 getattr(update, "update_id", "?"))
    else:
        await _report_failure(update, context)
    raise ApplicationHandlerStop


async def _report_failure(update: object, context: Ctx) -> None:
    """Log the failure (never the message body) and tell the person in one sentence: on an
    infrastructure fault that they will be answered later (the update is handled again, see
    `handle_update`), otherwise that something went wrong."""
    error = context.error
    again = isinstance(update, Update) and infrastructure_fault(error)
    if again:
        context.application.bot_data.setdefault(_FAULTS, {})[update.update_id] = error
        log.warning("handling update %s failed, to be handled again: %s", update.update_id,
                    type(error).__name__)
    else:
        log.error("handling update failed: %s", type(error).__name__, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if again:
        told: set[int] = context.application.bot_data.setdefault("told_delayed", set())
        if update.update_id in told:
            return   # once per update, however often it is tried again
        told.add(update.update_id)
    try:
        if update.callback_query is not None:
            with contextlib.suppress(TelegramError):   # perhaps answered before the failure
                await update.callback_query.answer()
        await update.effective_chat.send_message(DELAYED if again else SORRY)
    except Exception:  # noqa: BLE001 — the error path must not raise again
        log.warning("could not tell the person about the failure")
