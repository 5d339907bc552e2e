"""The crash and fault tests' test bed: `python -m bot run` as a real process against the
Telegram and Slack emulators, on SQLite or PostgreSQL, and what the tests check afterwards.

Kill points are found by waiting for something that happened (an emulator call, a fault
served, a row in the database, the bot blocked on a lock the test holds), never by sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import socket
import sqlite3
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select, text

from bot.emulators.slack import SlackEmulator
from bot.emulators.telegram import FakeUser, TelegramEmulator
from storage.db import Database, make_engine
from storage.models import Outbox, ProcessedUpdate

ROOT = Path(__file__).resolve().parents[2]
SLACK_TOKEN = "xoxb-crash-test-token"
SLACK_SECRET = "crash-test-signing-secret"
CHANNELS = ("engagements", "alerts", "media", "grants", "digest")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Wait until `predicate()` (sync or async) is truthy; checks every 20 ms."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


class HandOuts:
    """Which getUpdates call handed out each update, so a test can tell when the bot has
    received an update: the bot polls again only after it took the previous answer in."""

    def __init__(self, emu: TelegramEmulator) -> None:
        self.emu = emu
        self.at: dict[int, int] = {}
        original = emu._take_batch

        def take(limit: int) -> list[Any]:
            batch = original(limit)
            for update in batch:
                self.at.setdefault(update.update_id, emu.call_counts["getUpdates"])
            return batch

        emu._take_batch = take  # type: ignore[method-assign]

    def received(self, update_id: int) -> bool:
        return update_id in self.at and self.emu.call_counts["getUpdates"] > self.at[update_id]


class BotProcess:
    """`python -m bot run`; its output goes to a file (a full pipe would stall it)."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self, timeout: float = 60.0) -> None:
        assert self.process is None or self.process.returncode is not None
        with self.log.open("a") as out:
            out.write(f"\n===== start {self.starts} =====\n")
            out.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=ROOT, env=self.env, stdout=out,
                stderr=asyncio.subprocess.STDOUT)
        self.starts += 1
        async with aiohttp.ClientSession() as http:
            async def healthy() -> bool:
                assert self.process is not None
                if self.process.returncode is not None:
                    raise AssertionError(f"the bot exited with {self.process.returncode}:\n"
                                         f"{self.log.read_text()[-3000:]}")
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False
            await until(healthy, timeout, "the bot to be healthy")

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        assert self.process is not None and self.process.returncode is None, "not running"
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int:
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), 40)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def bot_env(url: str, telegram: TelegramEmulator, slack: SlackEmulator, port: int,
            media: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": telegram.token,
           "TELEGRAM_API_BASE_URL": telegram.base_url, "SLACK_BOT_TOKEN": SLACK_TOKEN,
           "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_BASE_URL": slack.api_base_url,
           "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(port), "MEDIA_DIR": str(media),
           "LOG_LEVEL": "INFO", "SCHEME_FILE": "", **extra}
    for name in ("SLACK_APP_TOKEN", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_SECRET"):
        env.pop(name, None)
    return env


@contextlib.asynccontextmanager
async def writes_held(url: str, table: str = "processed_updates") -> AsyncIterator[None]:
    """Nobody else can write while this is open. SQLite: a write transaction on the file
    (the bot begins every transaction IMMEDIATE, so it waits for this one). PostgreSQL: an
    EXCLUSIVE lock on `table` (reads go on, writes to it wait)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        connection = sqlite3.connect(path, timeout=30, isolation_level=None,
                                     check_same_thread=False)
        await asyncio.to_thread(connection.execute, "BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))
            try:
                yield
            finally:
                await connection.rollback()
    finally:
        await engine.dispose()


async def someone_waits_for_a_lock(db: Database) -> bool:
    """PostgreSQL: a session of this database is waiting for a lock (our hold)."""
    async with db.engine.connect() as connection:
        waiting = await connection.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"))
    return bool(waiting)


@dataclass
class Figures:
    """What the outbox and the emulators say about every message the bot queued."""
    rows: int = 0
    delivered_once: int = 0
    flagged_unknown: int = 0
    shown_twice: int = 0         # flagged rows the retry after the crash showed again
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"outbox_rows": self.rows, "delivered_once": self.delivered_once,
                "unknown_outcome": self.flagged_unknown,
                "unknown_outcome_shown_twice": self.shown_twice, "lost": len(self.lost),
                "duplicates": len(self.duplicates)}


async def outbox_figures(db: Database, telegram: TelegramEmulator,
                         slack: SlackEmulator) -> Figures:
    """Every row settled (none pending or sending) is either delivered exactly once, or
    flagged as of unknown outcome (the only case where it may show twice, or not at all).
    Rows are matched to what the emulators hold by destination and text."""
    async with db.transaction() as s:
        rows = (await s.scalars(select(Outbox).order_by(Outbox.id))).all()
    figures = Figures(rows=len(rows))
    groups: dict[tuple[str, str, str], list[Outbox]] = {}
    for row in rows:
        groups.setdefault((row.transport, row.destination, _first_line(row.payload)), []
                          ).append(row)
    seen: Counter[tuple[str, str, str]] = Counter()
    for channel in {row.destination for row in rows if row.transport == "slack"}:
        for message in slack.messages(channel):
            seen[("slack", channel, _first_line({"text": message.text}))] += 1
    for chat in telegram.chats:
        for message in chat.messages:
            if message.from_bot:
                seen[("telegram", str(chat.id), _first_line({"text": message.plain_text}))] += 1
    for key, group in groups.items():
        flagged = [r for r in group if r.outcome_unknown or r.status == "unknown"]
        clean = [r for r in group if r not in flagged]
        figures.flagged_unknown += len(flagged)
        for row in group:
            if row.status in ("pending", "sending", "failed"):
                figures.lost.append(f"row {row.id} {row.event} is {row.status}: {row.error}")
        shown = seen[key]
        if shown < len(clean):
            figures.lost.append(f"{key[:2]} {group[0].event}: {len(clean)} sent, {shown} shown")
        if shown - len(group) > len(flagged):   # a flagged row may have shown twice
            figures.duplicates.append(f"{key[:2]} {group[0].event}: {len(group)} rows "
                                      f"({len(flagged)} flagged), {shown} shown")
        figures.shown_twice += max(0, shown - len(group))
        figures.delivered_once += len(clean)
    return figures


def _first_line(payload: dict[str, Any]) -> str:
    return str((payload or {}).get("text") or "").strip().split("\n")[0][:60]


async def settled(db: Database) -> bool:
    async with db.transaction() as s:
        busy = await s.scalar(select(Outbox.id).where(Outbox.status.in_(["pending", "sending"]))
                              .limit(1))
    return busy is None


async def processed_keys(db: Database) -> set[str]:
    async with db.transaction() as s:
        return set((await s.scalars(select(ProcessedUpdate.key))).all())


class Person:
    """A Telegram user whose every update id is remembered (to check none was lost)."""

    def __init__(self, user: FakeUser) -> None:
        self.user = user
        self.sent: list[int] = []

    @property
    def emu(self) -> TelegramEmulator:
        return self.user.emulator

    def _note(self) -> int:
        update_id = self.emu.last_update_id
        assert update_id is not None
        self.sent.append(update_id)
        return update_id

    async def text(self, value: str) -> int:
        await self.user.send_text(value)
        return self._note()

    async def command(self, value: str) -> int:
        await self.user.send_command(value)
        return self._note()

    async def press(self, button: str, message: Any = None) -> int:
        await self.user.press(button, message)
        return self._note()


__all__ = ["BotProcess", "CHANNELS", "Figures", "HandOuts", "Person", "SLACK_SECRET",
           "SLACK_TOKEN", "bot_env", "free_port", "outbox_figures", "processed_keys",
           "settled", "someone_waits_for_a_lock", "until", "writes_held"]
