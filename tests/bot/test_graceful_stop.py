"""SIGTERM (DESIGN §10): stop taking updates, finish the one in flight, deliver what is queued,
give up the schedules' lock, exit 0 — as a real `python -m bot run` process, on both databases."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from sqlalchemy import select, text

from bot.emulators.slack import SlackEmulator
from bot.emulators.telegram import TelegramEmulator
from scheduler.runner import LEADER_LOCK_KEY
from storage import migrate
from storage.db import Database
from storage.models import Outbox, Role
from storage.operations.health import advisory_lock_holder
from storage.operations.people import sync_scheme
from storage.scheme import load_scheme
from tests.bot.test_cli import url  # noqa: F401 — a fresh database on each engine
from tests.handlers.telegram.harness import TOKEN, said
from tests.storage.seed import person

ROOT = Path(__file__).resolve().parents[2]
SLACK_TOKEN, SLACK_SECRET = "xoxb-graceful", "graceful-signing-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_sigterm_finishes_in_flight_flushes_the_outbox_and_exits_0(url: str,  # noqa: F811
                                                                         tmp_path) -> None:
    await asyncio.to_thread(migrate.upgrade, url)
    scheme = load_scheme()
    db = Database(url)
    try:
        async with db.transaction() as s:
            await sync_scheme(s, scheme)
            ann = await person(s, Role.AMBASSADOR, "Ann Shropshire", "Shropshire")
        port = free_port()
        async with TelegramEmulator(token=TOKEN) as telegram, \
                SlackEmulator(bot_token=SLACK_TOKEN, signing_secret=SLACK_SECRET) as slack, \
                aiohttp.ClientSession() as http:
            slack.add_channel(scheme.channels.alerts)
            env = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": TOKEN,
                   "TELEGRAM_API_BASE_URL": telegram.base_url, "SLACK_BOT_TOKEN": SLACK_TOKEN,
                   "SLACK_SIGNING_SECRET": SLACK_SECRET,
                   "SLACK_API_BASE_URL": slack.api_base_url, "HTTP_HOST": "127.0.0.1",
                   "HTTP_PORT": str(port), "MEDIA_DIR": str(tmp_path / "media"),
                   "SCHEME_FILE": ""}
            env.pop("SLACK_APP_TOKEN", None)
            env.pop("TELEGRAM_WEBHOOK_URL", None)
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            try:
                for _ in range(300):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("the bot never became healthy")
                # Telegram holds the answer to Ann's /help for 2 s and then fails it (without
                # delivering it): the update is in flight when SIGTERM arrives. Carried through
                # to its end, the answer is sent again and reaches her; a process that just
                # stopped would say nothing.
                telegram.faults.hang("sendMessage", seconds=2, then_answer=False)
                user = telegram.user(ann.telegram_id, "Ann")
                await user.send_command("/help")
                await telegram.wait_for(lambda: [c for c in telegram.calls
                                                 if c.method == "sendMessage"], 10)
                # A message queued for the office just before the stop must go out on the way.
                async with db.transaction() as s:
                    s.add(Outbox(transport="slack", destination=scheme.channels.alerts,
                                 event="note", payload={"text": "Queued before the stop"}))
                process.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(process.wait(), 60)
                output = (await process.stdout.read()).decode()
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            assert code == 0, output
            await said(user, "I help you keep the office up to date", timeout=1)
            assert [m.text for m in slack.messages(scheme.channels.alerts)] == [
                "Queued before the stop"]
        async with db.transaction() as s:
            assert (await s.scalars(select(Outbox.status))).all() == ["sent"]
        if db.dialect == "postgresql":
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                assert await advisory_lock_holder(conn, LEADER_LOCK_KEY) is None
        assert "stopping: finishing what is in flight" in output and "stopped" in output
    finally:
        await db.dispose()
