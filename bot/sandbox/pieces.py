"""The parts of the product the sandbox runs when this build has them.

The Telegram bot is always there. The Slack app (handlers/slack), the outbox dispatcher and
the schedules (scheduler/) and the photo pipeline (storage/media) are imported when the
sandbox starts; each one found is started against the emulators, each one missing is named on
the page with what that means ("messages wait in the outbox"), so a build that lacks a piece
still gives a working sandbox, and a piece is picked up as soon as it lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from storage.db import Database
from storage.scheme import Scheme

if TYPE_CHECKING:
    from bot.sandbox.sandbox import Sandbox

log = logging.getLogger(__name__)

TICK_SECONDS = 15.0           # how often the schedules look at the clock, in real time
DISPATCH_POLL_SECONDS = 0.5


@dataclass
class PieceStatus:
    """One entry of the page's status line."""

    key: str
    label: str
    running: bool = False
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def optional_module(name: str) -> Any | None:
    """The module if this build has it; None when it (or its package) does not exist yet.

    Only a missing module counts as "not built yet": an error inside a module that exists is
    a bug, and is raised.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and (name == error.name or name.startswith(error.name + ".")):
            return None
        raise


# -- the schedules, on the sandbox's clock -------------------------------------------------


class Schedules:
    """scheduler/runner.py's ScheduleRunner, on the sandbox's clock.

    Given a clock of its own, the runner arms no real timers: it runs what is due whenever
    `tick()` is called. The sandbox ticks every few seconds of real time and straight after the
    page moves the clock on, so a jump of a day runs that day's nudges and reminders once each
    (the runner's catch-up-once rule, as after downtime).
    """

    def __init__(self, runner: Any, on_ran: Callable[[list[str]], None]) -> None:
        self.runner, self.on_ran = runner, on_ran
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.runner.start()
        if not await self.runner.wait_until_leader(10):
            raise RuntimeError("the schedules did not start")
        self._task = asyncio.create_task(self._tick(), name="sandbox-schedules")

    async def stop(self) -> None:
        """Let a running tick finish (its jobs hold transactions), then stop the runner."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        await self.runner.stop()

    async def _tick(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), TICK_SECONDS)
            if self._stopping.is_set():
                return
            try:
                await self.catch_up()
            except Exception:  # noqa: BLE001 — a failing job must not stop the next ticks
                log.exception("the schedules failed")

    async def catch_up(self) -> list[str]:
        """Run, once each, the jobs due at the clock's time; returns their ids."""
        async with self._lock:
            ran = [run.job_id for run in await self.runner.tick()]
        if ran:
            self.on_ran(ran)
        return ran


def build_schedules(db: Database, scheme: Scheme, clock: Any, chart_dir: Path,
                    on_outbox: Callable[[], None],
                    on_ran: Callable[[list[str]], None]) -> Schedules | None:
    """The schedules on the sandbox's clock; None when scheduler/ has no runner yet."""
    module = optional_module("scheduler.runner")
    if module is None:
        return None
    runner = module.ScheduleRunner(db, scheme, clock=clock, chart_dir=chart_dir,
                                   on_outbox=on_outbox, name="sandbox")
    return Schedules(runner, on_ran)


async def post_digest_now(db: Database, scheme: Scheme, now: dt.datetime,
                          chart_dir: Path) -> str | None:
    """"Digest now": the last complete week's digest into the outbox; None when this build has
    no digest yet."""
    digest = optional_module("scheduler.digest")
    if digest is None:
        return None
    chart_dir.mkdir(parents=True, exist_ok=True)
    return await digest.post_digest(db, scheme, now=now, chart_dir=chart_dir)


# -- photos ---------------------------------------------------------------------------------


def build_photo_processor(media_dir: Path, scheme: Scheme) -> Any | None:
    """storage/media's PhotoProcessor, on threads: the sandbox is one process that people
    start and stop often, so no worker processes. None when this build has no pipeline."""
    media = optional_module("storage.media.pool")
    if media is None:
        return None
    from storage.media.store import MediaStore

    store = MediaStore(media_dir, keep_originals=scheme.retention.keep_media_originals)
    return media.PhotoProcessor(store, max_bytes=scheme.limits.max_media_bytes,
                                executor="thread")


def telegram_intake(processor: Any) -> Any | None:
    module = optional_module("handlers.telegram.media")
    return module.telegram_media_intake(processor) if module is not None else None


# -- the Slack app ------------------------------------------------------------------------


@dataclass
class SlackPiece:
    """A slack-bolt app, its handler for POST /slack/events, and how to close it."""

    app: Any
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]]
    close: Callable[[], Awaitable[None]]


async def start_slack_app(sandbox: Sandbox) -> SlackPiece | None:
    """The Slack app of handlers/slack, pointed at the Slack emulator; None if not built yet.
    Building it also registers its Block Kit renderers with the dispatcher."""
    module = optional_module("handlers.slack.app")
    if module is None:
        return None
    session = aiohttp.ClientSession()
    app = module.build_slack_app(sandbox.db, sandbox.scheme, token=sandbox.slack.bot_token,
                                 signing_secret=sandbox.slack.signing_secret,
                                 api_base_url=sandbox.slack.api_base_url, clock=sandbox.clock,
                                 session=session,
                                 telegram_bot_username=sandbox.bot_username,
                                 # the same safe-media pipeline as the Telegram side
                                 media_processor=sandbox.photo_processor)
    return SlackPiece(app, module.slack_events_handler(app), session.close)


# -- the outbox dispatcher ----------------------------------------------------------------


@dataclass
class DispatcherPiece:
    """The running dispatcher, its loop, and the clients it sends with."""

    dispatcher: Any
    task: asyncio.Task[None]
    closers: list[Callable[[], Awaitable[Any]]]

    def wake(self) -> None:
        self.dispatcher.wake()

    async def stop(self) -> None:
        await self.dispatcher.stop()
        await self.task   # it finishes the round in progress, then returns
        for close in self.closers:
            await close()


async def start_dispatcher(sandbox: Sandbox) -> DispatcherPiece | None:
    """The outbox dispatcher of scheduler/, delivering to both emulators; None if not built."""
    module = optional_module("scheduler.dispatcher")
    if module is None:
        return None
    from slack_sdk.web.async_client import AsyncWebClient
    from telegram import Bot

    bot = Bot(sandbox.telegram.token, base_url=sandbox.telegram.base_url,
              base_file_url=sandbox.telegram.base_file_url)
    await bot.initialize()
    # No retry handlers: the dispatcher decides what is safe to retry.
    client = AsyncWebClient(token=sandbox.slack.bot_token, base_url=sandbox.slack.api_base_url,
                            retry_handlers=[])
    senders = {"telegram": module.TelegramSender(bot), "slack": module.SlackSender(client)}
    dispatcher = module.Dispatcher(sandbox.db, sandbox.scheme, senders, clock=sandbox.clock,
                                   poll_interval=DISPATCH_POLL_SECONDS,
                                   name="sandbox-dispatcher")

    async def close_client() -> None:
        if client.session is not None and not client.session.closed:
            await client.session.close()

    task = asyncio.create_task(dispatcher.run(), name="sandbox-dispatcher")
    return DispatcherPiece(dispatcher, task, [bot.shutdown, close_client])
