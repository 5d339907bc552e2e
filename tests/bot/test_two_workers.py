"""Two `python -m bot run` workers on one PostgreSQL behind a round-robin proxy (DESIGN §10).

Telegram delivers by webhook and Slack by HTTP, each request to whichever worker is next, so
one person's consecutive messages land on different processes. What must hold: each person's
answers are taken in the order sent, nothing is recorded or said twice, every office post goes
out once, and exactly one worker runs the schedules (one digest).

PostgreSQL only: several workers share one PostgreSQL; on SQLite the bot is one process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.emulators.slack import SlackEmulator
from bot.emulators.telegram import FakeUser, TelegramEmulator
from scheduler.digest import last_complete_week
from scheduler.jobs import JOBS_BY_ID
from scheduler.runner import trigger_for
from storage import migrate
from storage.db import Database
from storage.models import Engagement, Outbox, Person, ProcessedUpdate, Role, ScheduleState
from storage.operations.people import sync_scheme
from storage.scheme import load_scheme
from tests.conftest import PG_URL
from tests.handlers.telegram.harness import TOKEN, said
from tests.storage.seed import person
from tests.storage.test_migrations import _fresh_pg_database

pytestmark = pytest.mark.skipif(not PG_URL, reason="several workers share PostgreSQL: run "
                                "`make test` (or set DATABASE_URL_PG)")

ROOT = Path(__file__).resolve().parents[2]
SLACK_TOKEN, SLACK_SECRET = "xoxb-two-workers", "two-workers-signing-secret"
WEBHOOK_SECRET = "two-workers-webhook-secret"
AMBASSADORS = 8
COMMISSIONER_SLACK = "UCOMMISSIONER"
EXPECTED = ["Let's tell the office ab", "What is the engagement c", "What kind of engagement ",
            "Which area is it in?", "Where is it? (a place na", "When does it start?",
            "How long will it last?", "Roughly how many people ", "Would you like to share ",
            "Pre-notify an engagement", "Thank you — the office k"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RoundRobin:
    """A load balancer at its simplest: each request to the next worker in turn."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets
        self.turn = itertools.cycle(range(len(targets)))
        self.sent = [0] * len(targets)
        self.session: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> RoundRobin:
        self.session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self.forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def forward(self, request: web.Request) -> web.Response:
        index = next(self.turn)
        self.sent[index] += 1
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length", "transfer-encoding")}
        assert self.session is not None
        async with self.session.request(request.method, self.targets[index] + request.path_qs,
                                        data=await request.read(), headers=headers) as answer:
            return web.Response(status=answer.status, body=await answer.read(),
                                content_type=answer.content_type)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.session is not None:
            await self.session.close()


async def seed(url: str) -> list[Person]:
    scheme = load_scheme()
    db = Database(url)
    try:
        async with db.transaction() as s:
            await sync_scheme(s, scheme)
            ambassadors = [await person(s, Role.AMBASSADOR, f"Ambassador {i}", "Shropshire")
                           for i in range(AMBASSADORS)]
            commissioner = await person(s, Role.COMMISSIONER, "John Campion")
            commissioner.telegram_id, commissioner.slack_id = None, COMMISSIONER_SLACK
            # The digest is due now: the leader runs it as soon as it starts leading.
            spec = JOBS_BY_ID["weekly_digest"]
            s.add(ScheduleState(job_id=spec.id, trigger=repr(trigger_for(scheme, spec)),
                                next_run_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
        return ambassadors
    finally:
        await db.dispose()


async def start_worker(url: str, port: int, telegram: TelegramEmulator, slack: SlackEmulator,
                       webhook: str, media: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": TOKEN,
           "TELEGRAM_API_BASE_URL": telegram.base_url, "TELEGRAM_WEBHOOK_URL": webhook,
           "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET, "SLACK_BOT_TOKEN": SLACK_TOKEN,
           "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_BASE_URL": slack.api_base_url,
           "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(port), "MEDIA_DIR": str(media),
           "LOG_LEVEL": "INFO", "SCHEME_FILE": ""}
    env.pop("SLACK_APP_TOKEN", None)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)


async def healthy(http: aiohttp.ClientSession, port: int, timeout: float = 60) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                report = await response.json()
                if response.status == 200:
                    return report
        except aiohttp.ClientError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"worker on {port} never became healthy")
        await asyncio.sleep(0.2)


async def prenotify(user: FakeUser, n: int) -> None:
    """Every answer typed straight after the last, without waiting for the questions."""
    await user.send_command("/prenotify")
    for text in (f"Meeting {n}", "Parish council meeting", "Shropshire", f"Hall {n}",
                 "tomorrow 7pm", "2 hours", str(10 + n), "skip"):
        await user.send_text(text)
    await said(user, "please check", timeout=60)
    await user.press("✅ Submit")
    await said(user, f"the office knows about “Meeting {n}”", timeout=60)


async def test_two_workers_keep_order_say_nothing_twice_and_post_one_digest(tmp_path) -> None:
    url = await _fresh_pg_database("two_workers")
    await asyncio.to_thread(migrate.upgrade, url)
    ambassadors = await seed(url)
    scheme = load_scheme()
    ports = [free_port(), free_port()]
    proxy = await RoundRobin([f"http://127.0.0.1:{p}" for p in ports]).start()
    workers: list[asyncio.subprocess.Process] = []
    async with TelegramEmulator(token=TOKEN) as telegram, \
            SlackEmulator(bot_token=SLACK_TOKEN, signing_secret=SLACK_SECRET,
                          app_url=f"{proxy.url}/slack/events") as slack, \
            aiohttp.ClientSession() as http:
        slack.add_user(COMMISSIONER_SLACK, "commissioner", "John Campion")
        for key in ("engagements", "alerts", "media", "grants", "digest"):
            slack.add_channel(getattr(scheme.channels, key))
        try:
            for port in ports:
                workers.append(await start_worker(url, port, telegram, slack,
                                                  f"{proxy.url}/telegram/webhook",
                                                  tmp_path / "media"))
            reports = [await healthy(http, port) for port in ports]
            assert sorted(r["scheduler_leader"] for r in reports) == ["another process",
                                                                     "this process"]
            users = [telegram.user(a.telegram_id, a.name) for a in ambassadors]
            await asyncio.gather(*(prenotify(user, n) for n, user in enumerate(users)))
            await slack.wait_for(lambda: len(slack.messages(scheme.channels.engagements))
                                 >= AMBASSADORS, 30)
            await slack.wait_for(lambda: slack.messages(scheme.channels.digest), 30)
            await asyncio.sleep(1.5)  # anything sent twice would have arrived by now

            assert min(proxy.sent) > AMBASSADORS  # both workers took a share of every chat
            for user in users:
                # One message per question, in the order asked (edits of a message, like the
                # summary losing its buttons once submitted, are the same message).
                # A typed date is read back first ("Sat 5 Dec 2026, 19:00 — next: How long…").
                firsts = {m.message_id: m.text.split("\n")[0].split(" — next: ")[-1]
                          for m in user.chat.bot_activity}
                assert [firsts[k][:24] for k in sorted(firsts)] == EXPECTED, firsts
            db = Database(url)
            try:
                async with db.transaction() as s:
                    engagements = (await s.scalars(select(Engagement))).all()
                    keys = (await s.scalars(select(ProcessedUpdate.key))).all()
                    outbox = (await s.scalars(select(Outbox))).all()
            finally:
                await db.dispose()
            by_title = {e.title: e for e in engagements}
            assert sorted(by_title) == sorted(f"Meeting {n}" for n in range(AMBASSADORS))
            assert len(engagements) == AMBASSADORS
            for n in range(AMBASSADORS):
                e = by_title[f"Meeting {n}"]
                assert (e.place, e.expected_audience) == (f"Hall {n}", 10 + n)
            assert len(keys) == len(set(keys))
            assert all(row.status == "sent" for row in outbox), \
                [(r.event, r.status, r.error) for r in outbox if r.status != "sent"]
            posts = [m.text for m in slack.messages(scheme.channels.engagements)]
            assert len(posts) == AMBASSADORS == len(set(posts))
            digest = [m for m in slack.messages(scheme.channels.digest) if m.thread_ts is None]
            assert [m.text.split(":")[0] for m in digest] == ["Weekly digest"]
            chart = [m for m in slack.messages(scheme.channels.digest) if m.thread_ts]
            year, week, _ = last_complete_week(dt.datetime.now(dt.UTC), scheme.tz).isocalendar()
            assert [[f["name"] for f in m.files] for m in chart] == [
                [f"digest-{year}-W{week:02d}.png"]]
            commissioner_dm = slack.user(COMMISSIONER_SLACK).dm_channel
            assert len([m for m in slack.messages(commissioner_dm)
                        if "Weekly digest" in m.text]) == 1
            # Slack behind the same proxy: a slash command answered whichever worker takes it.
            for _ in range(2):
                answer = await slack.slash_command(COMMISSIONER_SLACK, "/ambassadors", "help")
                assert answer.status == 200
        finally:
            outputs = []
            for worker in workers:
                if worker.returncode is None:
                    worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    await asyncio.wait_for(worker.wait(), 30)
                except TimeoutError:
                    worker.kill()
                    await worker.wait()
                outputs.append((await worker.stdout.read()).decode())
            await proxy.stop()
    assert [w.returncode for w in workers] == [0, 0], outputs
    leaders = [out for out in outputs if ": leading (advisory lock" in out]
    assert len(leaders) == 1, outputs
    for out in outputs:
        assert TOKEN not in out and SLACK_SECRET not in out and WEBHOOK_SECRET not in out
