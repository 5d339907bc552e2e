"""Faults: the bot (bot.runner.run, in this process) keeps answering while, for a stretch, the
Telegram and Slack emulators answer 500, hang, and say 429 with retry-after, and while the
database is unavailable (PostgreSQL: the bot's connection relay is cut; SQLite: another
connection holds the write lock). People hear the next question, or that their message is kept
and will be answered (and it then is, with nothing sent again); nothing they submitted is lost
or doubled; each chat's messages keep their order.

The stretch lengths are parameters (FAULTS_SECONDS, FAULTS_DB_DOWN_SECONDS); `make test` keeps
them to seconds. No assertion is about how long anything took.
"""

from __future__ import annotations

import asyncio
import json
import os

from sqlalchemy import make_url, select

from bot.runner import run
from bot.settings import Settings
from storage.models import Engagement, Outbox
from tests.crash.conftest import World
from tests.crash.harness import (ROOT, SLACK_SECRET, SLACK_TOKEN, Person, outbox_figures,
                                 settled, until, writes_held)
from tests.handlers.telegram.harness import said
from tests.scheduler.outage import _Relay

FAULT_SECONDS = float(os.environ.get("FAULTS_SECONDS", "3"))
DB_DOWN_SECONDS = float(os.environ.get("FAULTS_DB_DOWN_SECONDS", "3"))
QUESTIONS = ["What is the engagement called?", "What kind of engagement", "Which area",
             "Where is it?", "When does it start?", "How long will it last?",
             "Roughly how many people", "exact location", "please check"]


async def prenotify(ann: Person, title: str, *, faults: World | None = None) -> None:
    """Every answer waits for its question; a question hidden by a fault is asked again by
    the ambassador sending /menu (what a person would do), which must then carry on."""
    user = ann.user
    steps = [("command", "/prenotify"), ("text", title), ("press", "Parish council meeting"),
             ("press", "Shropshire"), ("text", f"{title} hall"), ("text", "tomorrow 7pm"),
             ("press", "2 hours"), ("text", "25"), ("text", "skip")]
    for (how, value), question in zip(steps, QUESTIONS, strict=True):
        await getattr(ann, how)(value)
        await said(user, question, 60)
    await ann.press("✅ Submit")
    await said(user, f"the office knows about “{title}”", 60)


async def test_faults_keep_answering_lose_nothing_keep_order(world: World, tmp_path) -> None:
    relay: _Relay | None = None
    url = world.url
    if world.engine == "postgresql":
        real = make_url(url)
        relay = _Relay(real.host or "127.0.0.1", real.port or 5432)
        await relay.start()
        url = real.set(host="127.0.0.1", port=relay.listen_port).render_as_string(
            hide_password=False)
    settings = Settings(_env_file=None, database_url=url,
                        telegram_bot_token=world.telegram.token,
                        telegram_api_base_url=world.telegram.base_url,
                        slack_bot_token=SLACK_TOKEN, slack_signing_secret=SLACK_SECRET,
                        slack_api_base_url=world.slack.api_base_url, http_host="127.0.0.1",
                        http_port=world.port, media_dir=tmp_path / "media",
                        outbox_lease_seconds=2)
    stop = asyncio.Event()
    bot = asyncio.create_task(run(settings, world.scheme, stop=stop))
    telegram, slack = world.telegram, world.slack
    ann = Person(telegram.user(world.ambassador.telegram_id, "Ann"))
    try:
        # ---- the stretch: both APIs failing in every way, while two forms go on -------------
        loop = asyncio.get_running_loop()
        end = loop.time() + FAULT_SECONDS

        # Slack: the office posts meet a 500, a 429 with Retry-After, a hang past nothing.
        slack.faults.fail("chat.postMessage", times=2)
        slack.faults.rate_limit("chat.postMessage", times=2, retry_after=1)
        slack.faults.hang("chat.postMessage", seconds=1)

        async def keep_failing() -> None:
            while loop.time() < end:
                telegram.faults.server_error("sendMessage")
                telegram.faults.flood("sendMessage", retry_after=1)
                telegram.faults.bad_gateway("sendMessage")
                await until(lambda: not telegram.faults.pending, 600, "faults served")
                # Intermittent, as outages are: one call gets through before the next faults.
                sent = telegram.call_counts["sendMessage"]
                await until(lambda: telegram.call_counts["sendMessage"] > sent, 600,
                            "a call between faults")

        failing = asyncio.create_task(keep_failing())
        await prenotify(ann, "Faulty meeting one")
        while loop.time() < end:   # the stretch lasts FAULT_SECONDS, however quick the form
            await ann.command("/help")
            await said(ann.user, "I help you", 60)
        failing.cancel()
        telegram.faults.clear()
        await prenotify(ann, "Faulty meeting two")

        # ---- the database goes away ---------------------------------------------------------
        await ann.command("/prenotify")
        await said(ann.user, QUESTIONS[0], 60)
        if relay is not None:
            await relay.cut()
            await ann.text("Outage meeting")
            await said(ann.user, "I've kept what you sent", 60)
            await asyncio.sleep(DB_DOWN_SECONDS)   # the outage itself, not a wait for the bot
            await relay.start()                    # the kept answer is taken: not sent again
        else:
            async with writes_held(world.url):
                await ann.text("Outage meeting")
                await asyncio.sleep(DB_DOWN_SECONDS)
        await said(ann.user, QUESTIONS[1], 60)   # carried on from where it was
        await ann.command("/cancel")
        await said(ann.user, "Cancelled", 60)

        await until(lambda: settled(world.db), 90, "the outbox to settle")
    finally:
        stop.set()
        await asyncio.wait_for(bot, 60)
        if relay is not None:
            await relay.cut()
    async with world.db.transaction() as s:
        titles = sorted((await s.scalars(select(Engagement.title))).all())
        posts = (await s.scalars(select(Outbox).where(
            Outbox.destination == world.scheme.channels.engagements).order_by(Outbox.id))).all()
    assert titles == ["Faulty meeting one", "Faulty meeting two"]
    assert len(slack.faults.served) == 5
    figures = await outbox_figures(world.db, telegram, slack)
    assert figures.lost == [] and figures.duplicates == [], figures
    # Order per chat: the office's channel shows the posts in the order they were queued, and
    # the ambassador's questions came in the form's order.
    shown = [m.text.split("\n")[0] for m in slack.messages(world.scheme.channels.engagements)]
    queued = [str(p.payload["text"]).split("\n")[0] for p in posts]
    assert [t for i, t in enumerate(shown) if t not in shown[:i]] == queued
    asked = [q for m in ann.user.bot_messages() for q in QUESTIONS if q in (m.text or "")]
    for first, second in zip(QUESTIONS, QUESTIONS[1:]):
        assert asked.index(first) < asked.index(second)
    report = {"engine": world.engine, "fault_seconds": FAULT_SECONDS,
              "db_down_seconds": DB_DOWN_SECONDS,
              "telegram_faults_served": sum(1 for c in telegram.calls if c.status >= 400),
              "slack_faults_served": len(slack.faults.served), **figures.as_dict()}
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / f"faults-{world.engine}.json").write_text(
        json.dumps(report, indent=2))
    print(f"\nfaults [{world.engine}]: {report}")
