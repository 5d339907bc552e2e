"""`python -m bot sandbox`: the whole scheme on one machine, with no tokens and no internet.

One process runs the Telegram Bot API emulator and the Slack Web API emulator on 127.0.0.1,
the real bot polling the first, the Slack app (when this build has it) receiving the second's
signed requests at /slack/events, the outbox dispatcher and the schedules (when this build has
them), on an SQLite file seeded with a demo scheme — and one web page to drive it all
(bot/sandbox/static). The composition mirrors bot/runner.py; only the far ends are emulated.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from telegram.ext import Application

from bot.emulators.slack import SlackEmulator
from bot.emulators.telegram import DEFAULT_TOKEN, TelegramEmulator
from bot.sandbox import pieces, seed
from bot.sandbox.clock import SandboxClock
from bot.sandbox.events import EventBus, Relay
from bot.sandbox.pieces import DispatcherPiece, PieceStatus, Schedules
from handlers.telegram.app import announce_commands, build_application
from handlers.telegram.context import Services
from storage import migrate
from storage.db import Database
from storage.models import Outbox
from storage.operations.people import sync_scheme, the_fund
from storage.parsers import format_money, format_when
from storage.scheme import CHANNEL_KEYS, Scheme, load_scheme

log = logging.getLogger(__name__)

BOT_USERNAME = "AmbassadorSandboxBot"
BOT_NAME = "Ambassador Bot"
SLACK_BOT_TOKEN = "xoxb-sandbox-0000000000-emulated"
# Not a secret: the emulator signs with it and the app checks it, both on this machine.
SLACK_SIGNING_SECRET = "sandbox-signing-secret"
OUTBOX_POLL_SECONDS = 0.5
POLL_TIMEOUT = 5


@dataclass
class SandboxConfig:
    """Where the sandbox keeps its files and where it listens."""

    db_path: Path = Path("sandbox.db")
    data_dir: Path = Path("sandbox-data")      # the clock's offset, the emulators' last ids, photos, charts
    scheme_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080                           # 0 picks a free port (tests)
    reset: bool = False
    schedules: bool = True                     # run the scheme's schedules on the clock

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.db_path}"


@dataclass
class Sandbox:
    config: SandboxConfig
    scheme: Scheme = field(init=False)
    clock: SandboxClock = field(init=False)
    db: Database = field(init=False, default=None)  # type: ignore[assignment]
    bus: EventBus = field(default_factory=EventBus)
    telegram: TelegramEmulator = field(init=False, default=None)  # type: ignore[assignment]
    slack: SlackEmulator = field(init=False, default=None)  # type: ignore[assignment]
    application: Application | None = None
    statuses: dict[str, PieceStatus] = field(default_factory=dict)
    bot_username: str = BOT_USERNAME
    url: str = ""

    def __post_init__(self) -> None:
        self.scheme = load_scheme(self.config.scheme_file)
        self.clock = SandboxClock(self.config.data_dir / "clock.json")
        self._runner: web.AppRunner | None = None
        self._relays: list[Relay] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._slack: pieces.SlackPiece | None = None
        self._dispatcher: DispatcherPiece | None = None
        self._schedules: Schedules | None = None
        self._restart_lock = asyncio.Lock()
        self._outbox_mark: tuple[Any, ...] | None = None
        self._stopping = asyncio.Event()
        self.ready = False
        self._photos: Any = None

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> Sandbox:
        if self.config.reset:
            self._remove_files()
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.clock = SandboxClock(self.config.data_dir / "clock.json")
        await self._start_web()  # first: a port in use stops start-up before anything runs
        try:
            await self._start_the_rest()
        except BaseException:
            await self.stop()
            raise
        self.ready = True
        return self

    async def _start_the_rest(self) -> None:
        await migrate.upgrade_async(self.config.database_url)
        self.db = Database(self.config.database_url)
        async with self.db.transaction() as session:
            await sync_scheme(session, self.scheme)
        if not await seed.is_seeded(self.db):
            await seed.seed(self.db, self.scheme, self.clock(),
                            media_dir=self.config.data_dir / "media")

        # The emulators keep their last ids beside the clock: a sandbox started again on this
        # database must not repeat ids the bot has recorded as handled (it would ignore them).
        self.telegram = TelegramEmulator(DEFAULT_TOKEN, bot_username=BOT_USERNAME,
                                         bot_first_name=BOT_NAME,
                                         state_dir=self.config.data_dir)
        await self.telegram.start()
        for who in seed.AMBASSADORS:
            first, _, last = who.name.partition(" ")
            self.telegram.user(who.telegram_id, first, last_name=last or None,
                               username=who.key)
        self.slack = SlackEmulator(bot_token=SLACK_BOT_TOKEN,
                                   signing_secret=SLACK_SIGNING_SECRET,
                                   app_url=f"{self.url}/slack/events",
                                   state_dir=self.config.data_dir)
        await self.slack.start()
        for who in seed.OFFICE:
            self.slack.add_user(who.slack_id, who.name.split()[0].lower(), who.name)
        for key in CHANNEL_KEYS:
            self.slack.add_channel(getattr(self.scheme.channels, key))
        for source, emulator_url in (("telegram", self.telegram.url),
                                     ("slack", self.slack.url)):
            relay = Relay(self.bus, source, f"{emulator_url}/_emulator/events")
            relay.start()
            self._relays.append(relay)
        await asyncio.wait_for(asyncio.gather(*(r.connected.wait() for r in self._relays)), 10)

        self.statuses["telegram"] = PieceStatus("telegram", "Telegram bot")
        await self._start_bot()
        await self._start_slack()
        await self._start_dispatcher()
        await self._start_schedules()
        self._tasks.append(asyncio.create_task(self._watch_outbox(), name="outbox-watch"))

    async def stop(self) -> None:
        """Stop whatever is running, in reverse order (also after a failed start)."""
        self.ready = False
        # Background work is asked to finish, not cancelled: a query cancelled half-way could
        # leave SQLite's write lock held by a connection nobody returns.
        self._stopping.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        if self._schedules is not None:
            await self._schedules.stop()
            self._schedules = None
        await self._stop_dispatcher()
        await self._stop_bot()
        await self._stop_slack()
        if self._photos is not None:
            await self._photos.aclose()
            self._photos = None
        self.bus.close()
        for relay in self._relays:
            await relay.stop()
        self._relays.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for emulator in (self.telegram, self.slack):
            if emulator is not None:
                await emulator.stop()
        self.telegram = self.slack = None  # type: ignore[assignment]
        if self.db is not None:
            await self.db.dispose()
            self.db = None  # type: ignore[assignment]

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _remove_files(self) -> None:
        path = self.config.db_path
        for leftover in (path, path.with_name(path.name + "-wal"),
                         path.with_name(path.name + "-shm"),
                         path.with_name(path.name + "-journal")):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(self.config.data_dir, ignore_errors=True)

    async def _start_web(self) -> None:
        from bot.sandbox.web import SANDBOX, routes, sentences

        app = web.Application(client_max_size=60 * 1024 * 1024, middlewares=[sentences])
        app[SANDBOX] = self
        app.add_routes(routes(self))
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    # -- the Telegram bot ------------------------------------------------------------------

    async def _start_bot(self) -> None:
        services = Services(db=self.db, scheme=self.scheme, clock=self.clock,
                            media_intake=self._media_intake(), bot_username=BOT_USERNAME)
        application = build_application(DEFAULT_TOKEN, services,
                                        api_base_url=self.telegram.base_url,
                                        api_file_url=self.telegram.base_file_url)
        await application.initialize()
        await application.start()
        await announce_commands(application)
        await application.updater.start_polling(poll_interval=0, timeout=POLL_TIMEOUT)
        self.application = application
        self._status("telegram", True, f"python-telegram-bot polling the emulator as "
                     f"@{BOT_USERNAME}")

    async def _stop_bot(self) -> None:
        application, self.application = self.application, None
        if application is None:
            return
        if application.updater.running:
            await application.updater.stop()
        await application.stop()
        await application.shutdown()

    async def restart_bot(self) -> None:
        """Stop the bots and build them again, as a crash-and-restart would: what people had
        half-typed is in the database (form drafts), so they carry on where they were."""
        async with self._restart_lock:
            self._status("telegram", False, "restarting…")
            await self._stop_bot()
            await self._stop_slack()
            await self._start_bot()
            await self._start_slack()
        self.bus.publish("sandbox", "restarted", at=self.clock().isoformat())

    def _media_intake(self) -> Any:
        """Photos go through the media pipeline (storage/media), in threads rather than worker
        processes: the sandbox is one process people start and stop often."""
        status = self.statuses.setdefault("photos", PieceStatus("photos", "Photos"))
        if self._photos is None:
            self._photos = pieces.build_photo_processor(self.config.data_dir / "media",
                                                        self.scheme)
        intake = pieces.telegram_intake(self._photos) if self._photos is not None else None
        status.running = intake is not None
        status.note = (f"photos are made safe and stored under {self.config.data_dir}/media"
                       if intake else "the photo pipeline is not in this build yet: the "
                       "photos form says photos can't be received")
        return intake

    @property
    def photo_processor(self) -> Any:
        """The media pipeline the Telegram side uses (None before the bot has started)."""
        return self._photos

    # -- Slack -----------------------------------------------------------------------------

    async def _start_slack(self) -> None:
        status = self.statuses.setdefault("slack", PieceStatus("slack", "Slack app"))
        self._slack = await pieces.start_slack_app(self)
        status.running = self._slack is not None
        status.note = ("slack-bolt answering the emulator's signed requests at /slack/events"
                       if self._slack else "handlers/slack has no app in this build yet: "
                       "buttons in Slack get no answer")
        self._publish_status()

    async def _stop_slack(self) -> None:
        piece, self._slack = self._slack, None
        if piece is not None:
            await piece.close()

    async def slack_events(self, request: web.Request) -> web.StreamResponse:
        """POST /slack/events: the emulator's signed requests, handed to the Slack app."""
        if self._slack is None:
            return web.json_response({"error": "The Slack app isn't running in this sandbox "
                                      "(handlers/slack has no app in this build yet)."},
                                     status=503)
        return await self._slack.handle(request)

    # -- the dispatcher and the schedules -------------------------------------------------

    async def _start_dispatcher(self) -> None:
        status = self.statuses.setdefault("dispatcher", PieceStatus("dispatcher",
                                                                    "Outbox dispatcher"))
        self._dispatcher = await pieces.start_dispatcher(self)
        status.running = self._dispatcher is not None
        status.note = ("delivering the outbox to the Telegram and Slack emulators"
                       if self._dispatcher else "scheduler/ has no dispatcher in this build "
                       "yet: messages wait in the outbox (see the Outbox panel)")

    async def _stop_dispatcher(self) -> None:
        dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None:
            await dispatcher.stop()

    async def _start_schedules(self) -> None:
        status = self.statuses.setdefault("schedules", PieceStatus("schedules", "Schedules"))
        if not self.config.schedules:
            status.note = "off"
            return
        self._schedules = pieces.build_schedules(
            self.db, self.scheme, self.clock, self.config.data_dir / "charts",
            on_outbox=self._outbox_changed,
            on_ran=lambda ran: self.bus.publish("sandbox", "schedules", ran=ran))
        if self._schedules is None:
            status.note = ("scheduler/ has no runner in this build yet: nothing is nudged or "
                           "reminded")
            return
        await self._schedules.start()
        status.running = True
        status.note = ("the scheme's schedules (digest, reminders, nudges) run on the sandbox "
                       "clock: move it on with the toolbar")

    def _outbox_changed(self) -> None:
        """A job wrote to the outbox: wake the dispatcher rather than wait for its next look."""
        if self._dispatcher is not None:
            self._dispatcher.wake()

    # -- what the toolbar does -------------------------------------------------------------

    async def advance(self, delta: dt.timedelta) -> dict[str, Any]:
        """Move the clock on and run whatever fell due meanwhile (nudges, reminders, digest)."""
        self.clock.advance(delta)
        ran = await self._schedules.catch_up() if self._schedules is not None else []
        self.bus.publish("sandbox", "clock", clock=self.clock_json(), ran=ran)
        return {"clock": self.clock_json(), "ran": ran}

    async def run_digest(self) -> str | None:
        text = await pieces.post_digest_now(self.db, self.scheme, self.clock(),
                                            self.config.data_dir / "charts")
        await self._check_outbox()
        return text

    # -- what the page reads ---------------------------------------------------------------

    def clock_json(self) -> dict[str, Any]:
        now = self.clock()
        return {"now": now.isoformat(), "label": format_when(now, self.scheme.timezone),
                "offset_hours": round(self.clock.offset.total_seconds() / 3600, 2)}

    async def fund_json(self) -> dict[str, Any]:
        async with self.db.transaction() as session:
            fund = await the_fund(session, self.scheme)
            return {"size": format_money(fund.size_pence),
                    "remaining": format_money(fund.remaining_pence),
                    "remaining_pence": fund.remaining_pence}

    def status_json(self) -> list[dict[str, Any]]:
        return [status.to_json() for status in self.statuses.values()]

    def _status(self, key: str, running: bool, note: str) -> None:
        status = self.statuses.setdefault(key, PieceStatus(key, key))
        status.running, status.note = running, note
        self._publish_status()

    def _publish_status(self) -> None:
        self.bus.publish("sandbox", "status", pieces=self.status_json())

    async def _watch_outbox(self) -> None:
        """Tell the page whenever the outbox changes (new rows, rows delivered or failed)."""
        while not self._stopping.is_set():
            try:
                await self._check_outbox()
            except Exception:  # noqa: BLE001 — a locked or busy database: look again soon
                log.debug("outbox check failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), OUTBOX_POLL_SECONDS)

    async def _check_outbox(self) -> None:
        async with self.db.engine.connect() as conn:
            mark = tuple((await conn.execute(select(
                func.max(Outbox.id), func.count().filter(Outbox.status == "pending"),
                func.count().filter(Outbox.status == "failed"),
                func.max(Outbox.sent_at)))).one())
        if mark != self._outbox_mark:
            self._outbox_mark = mark
            self.bus.publish("sandbox", "outbox", last_id=mark[0], pending=mark[1],
                             failed=mark[2])


async def run_sandbox(*, port: int = 8080, reset: bool = False,
                      scheme_file: Path | None = None, db_path: Path = Path("sandbox.db"),
                      announce: Any = print) -> None:
    """`python -m bot sandbox`: start, say where, run until Ctrl+C or SIGTERM, stop cleanly."""
    # APScheduler announces every job it adds and every pause; the console is for people.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    config = SandboxConfig(db_path=db_path, data_dir=db_path.parent / "sandbox-data",
                           scheme_file=scheme_file, port=port, reset=reset)
    sandbox = Sandbox(config)
    await sandbox.start()
    try:
        announce(f"\nThe sandbox is running: open {sandbox.url} in your browser.\n"
                 f"  Telegram emulator {sandbox.telegram.url} · Slack emulator "
                 f"{sandbox.slack.url} · database {config.db_path}\n"
                 "  Ctrl+C stops it; --reset starts again from the demo scheme.\n")
        await stop.wait()
    finally:
        announce("Stopping the sandbox…")
        await sandbox.stop()
