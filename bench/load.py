"""`python -m bench load [--quick]`: 100 ambassadors doing mixed flows against a bare PTB echo bot.

The whole bot as ``python -m bot run`` wires it (``bot.runner.run``: the Telegram application
with its confirming poller and chat locks, the Slack app, the outbox dispatcher with its Telegram
and Slack senders, the schedules, the photo worker pool, the web server) runs in one process
against the Telegram Bot API emulator and the Slack emulator, on a fresh migrated database.
100 ambassadors, each seeded with engagements held earlier today, go through whole flows in
turn, each starting at a different one: pre-notify an engagement (10 updates), file feedback on
one (11 updates; one in four with an urgent follow-up for the office, 13 updates), send a photo
of one (8 updates: a JPEG made with Pillow, with EXIF orientation and GPS) and recommend a grant
(9 updates), until each has sent its share of the fixed number of updates. Every ambassador is a
closed loop: an update, then wait for the bot's answer, then the next (a person reading the next
question), all 100 at once. The dispatcher delivers what the flows queue (Slack posts, the urgent
alerts, the photos' uploads) while the flows go on; the schedules run on the real clock.

The floor is a bare python-telegram-bot echo bot (``bench._telegram_floor.build_echo_app``) on
the same emulator, driven by the same code: the same 100 users sending the same number of
updates each, each waiting for its echo before sending the next.

Each measurement is a process of its own (``--child``), so that peak RSS is that variant's
own; the emulators run in it, in the same event loop, for both variants. Rounds are
interleaved (echo, SQLite[, PostgreSQL]; the order turns round by round) and every ratio is
taken pair by pair within a round.

Figures: updates/s over the run (first update injected → last answer), p50/p99 latency (update
injected → the bot's answering call at the emulator), CPU ms per update (the process, emulators
included, plus the photo workers), peak RSS (the process's high-water mark plus the photo
workers'). The outbox's tail after the last answer is delivered outside the measured window.

After each run of the bot, correctness is checked and a broken run stops the bench: every
ambassador's engagements, feedback (and urgent follow-ups), photos and grants exist exactly once
with what was typed; every update is recorded as processed once and got an answer; no draft is
left; every outbox row is sent, and shows exactly once in Slack; each chat's confirmations came
in the order of its flows.

PostgreSQL is measured too when DATABASE_URL_PG is set (a fresh database per run, dropped
afterwards): ``.venv/bin/python scripts/with_postgres.py .venv/bin/python -m bench load``.
Last line: ``load: <ratio> mixed-flow/echo updates per second (SQLite)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import logging
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import median_range, pairwise_ratios

ROOT = Path(__file__).resolve().parents[1]
FIRST_TELEGRAM_ID = 800_000  # far from the other benchmarks' and the tests' ids
SLACK_TOKEN = "xoxb-bench-load"
SLACK_SECRET = "bench-load-signing-secret"
STEP_TIMEOUT = 120.0  # one answer, seconds; a bot that stops answering stops the bench
FLOWS = ("prenotify", "feedback", "photos", "grant")
URGENT_EVERY = 4  # one feedback in four asks the office to follow up, urgently
GRANT_AMOUNT = "£50"


@dataclass(frozen=True)
class Sizes:
    rounds: int
    n_updates: int
    n_users: int


SIZES = {"default": Sizes(rounds=5, n_updates=4000, n_users=100),   # each through all four
         "quick": Sizes(rounds=1, n_updates=1000, n_users=100)}     # each through one


# --------------------------------------------------------------------------------------------
# The plan: which flows each ambassador goes through, and every step of each
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One update and the answer that must come before the next: ``action`` is ``command``,
    ``text``, ``photo`` or ``press``; ``value`` what is typed or the button (or a function of
    the question's buttons giving it); ``expect`` a fragment of the bot's answer."""

    action: str
    value: str | Callable[[list[str]], str]
    expect: str


@dataclass(frozen=True)
class Flow:
    kind: str
    user: int          # the ambassador's index
    number: int        # the ambassador's flow number (0, 1, …)
    urgent: bool = False
    engagement: str = ""   # the seeded engagement's title (feedback and photos)

    @property
    def tag(self) -> str:
        """Unique to this flow: it goes into what is typed, so the record can be found."""
        return f"{self.user}.{self.number}"


def seeded_title(user: int, index: int) -> str:
    return f"Seeded visit {user}.{index}"


def _button(fragment: str) -> Callable[[list[str]], str]:
    def pick(buttons: list[str]) -> str:
        found = [b for b in buttons if fragment in b]
        if len(found) != 1:
            raise AssertionError(f"{len(found)} buttons with {fragment!r}; buttons: {buttons}")
        return found[0]
    return pick


def steps(flow: Flow, scheme: Any) -> list[Step]:
    """What the ambassador sends in ``flow`` and what the bot answers each time."""
    if flow.kind == "prenotify":
        return [
            Step("command", "/prenotify", "What is the engagement called?"),
            Step("text", f"Load bench meeting {flow.tag}", "What kind of engagement"),
            Step("press", scheme.engagement_kinds[flow.number % len(scheme.engagement_kinds)],
                 "Which area"),
            Step("press", scheme.areas[0], "Where is it?"),
            Step("text", "Memorial Hall, Much Wenlock", "When does it start?"),
            Step("text", "tomorrow 7pm", "How long will it last?"),
            Step("press", "2 hours", "Roughly how many people"),
            Step("text", "30", "exact location"),
            Step("press", "Skip ▶", "please check"),
            Step("press", "✅ Submit", "the office knows about"),
        ]
    if flow.kind == "feedback":
        follow_up = ([Step("press", "The office", "What needs following up"),
                      Step("text", f"Load bench follow-up {flow.tag}: call the parish clerk",
                           "How urgent is it?"),
                      Step("press", "Urgent", "How long did you spend")] if flow.urgent
                     else [Step("press", "No follow-up needed", "How long did you spend")])
        return [
            Step("command", "/feedback", "Which engagement is this about?"),
            Step("press", _button(flow.engagement), "How many people were there?"),
            Step("text", "25", "Which groups did you meet?"),
            Step("press", f"▫️ {scheme.demographic_groups[0]}", "Which groups did you meet?"),
            Step("press", "Done ✔", "Which topics came up?"),
            Step("press", "Done ✔", "Please write a summary"),
            Step("text", f"Load bench summary {flow.tag}: speeding near the school",
                 "What came of it?"),
            Step("press", "Skip ▶", "Does anyone need to follow anything up?"),
            *follow_up,
            Step("text", "2", "please check"),
            Step("press", "✅ Submit", "your feedback is filed"),
        ]
    if flow.kind == "photos":
        return [
            Step("command", "/photos", "Which engagement are they from?"),
            Step("press", _button(flow.engagement), "Send the photos or video now"),
            Step("photo", "", "so far"),
            Step("press", "Done ✔", "Did everyone shown agree"),
            Step("press", "Yes", "Are any children"),
            Step("press", "No", "Anything the office should know"),
            Step("text", f"Load bench photo {flow.tag}", "please check"),
            Step("press", "✅ Submit", "sent to the office for review"),
        ]
    assert flow.kind == "grant"
    return [
        Step("command", "/grant", "Which organisation"),
        Step("text", f"Load bench club {flow.tag}", "Who is their contact"),
        Step("text", "Sam Jones, 01584 000000", "What is the project"),
        Step("text", "Summer boxing sessions for 12–16 year olds", "How much"),
        Step("text", GRANT_AMOUNT, "Which objectives"),
        Step("press", f"▫️ {scheme.plan_objectives[0]}", "Which objectives"),
        Step("press", "Done ✔", "Did you come across it"),
        Step("press", "Skip ▶", "please check"),
        Step("press", "✅ Submit", f"your recommendation of {GRANT_AMOUNT}"),
    ]


CONFIRMATION = {"prenotify": "the office knows about", "feedback": "your feedback is filed",
                "photos": "sent to the office for review",
                "grant": f"your recommendation of {GRANT_AMOUNT}"}


def plan(n_users: int, n_updates: int, scheme: Any) -> list[list[Flow]]:
    """Each ambassador's flows: the four in turn, starting at a different one, whole flows
    while they fit in their share of the updates (at least one each). The same for every
    round and variant; the total is reported."""
    share = n_updates // n_users
    plans: list[list[Flow]] = []
    feedbacks = 0
    for user in range(n_users):
        flows: list[Flow] = []
        sent, seeded = 0, 0
        while True:
            kind = FLOWS[(user + len(flows)) % len(FLOWS)]
            engagement, urgent = "", False
            if kind == "feedback":
                engagement = seeded_title(user, seeded)
                urgent = feedbacks % URGENT_EVERY == 0
            elif kind == "photos":
                engagement = seeded_title(user, 0)
            flow = Flow(kind, user, len(flows), urgent, engagement)
            length = len(steps(flow, scheme))
            if flows and sent + length > share:
                break
            flows.append(flow)
            sent += length
            if kind == "feedback":
                seeded += 1
                feedbacks += 1
        plans.append(flows)
    return plans


def seeded_per_user(plans: list[list[Flow]]) -> int:
    return max(1, *(sum(f.kind == "feedback" for f in flows) for flows in plans))


def test_jpeg(seed: int = 0) -> bytes:
    """A phone-like photo made in memory: 1,280 × 960, EXIF orientation and GPS. Each seed
    gives other pixels (the same photo twice on one engagement is rightly kept once)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1280, 960), (seed * 37 % 256, seed * 11 % 256, 160))
    draw = ImageDraw.Draw(image)
    for index in range(0, 1280, 40):  # some detail, so the JPEG is not trivially small
        draw.line([(index, 0), (1280 - index, 960)], fill=(index % 255, 80, seed % 256),
                  width=3)
    draw.rectangle([(seed % 1200, seed // 1200 % 900), (seed % 1200 + 60, 60)], fill=(0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.0), 3: "W", 4: (2.0, 43.0, 5.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Driving: every user a closed loop (send, wait for the answer, send the next)
# --------------------------------------------------------------------------------------------


class Answers:
    """Wakes the user whose chat the bot just wrote to (the emulator's own wait_for wakes every
    waiter on every call, which with 100 users would cost the measure more than the bot)."""

    def __init__(self, emu: Any) -> None:
        self.emu = emu
        self.waiting: dict[int, asyncio.Future[None]] = {}
        original = emu._note_bot_activity

        def note(chat: Any, message: Any, now: float) -> None:
            original(chat, message, now)
            waiter = self.waiting.pop(chat.id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

        emu._note_bot_activity = note  # type: ignore[method-assign]

    async def said(self, user: Any, start: int, fragment: str, timeout: float = STEP_TIMEOUT
                   ) -> Any:
        """The bot's latest message or edit in the user's chat since ``start`` that contains
        ``fragment``; waits for it."""
        chat = user.chat
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for message in reversed(chat.bot_activity[start:]):
                if fragment in (message.text or message.caption or ""):
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                last = chat.bot_activity[-1] if chat.bot_activity else None
                raise AssertionError(
                    f"chat {chat.id}: no answer with {fragment!r} within {timeout:.0f} s; "
                    f"{len(chat.bot_activity) - start} bot message(s) since, the last "
                    f"beginning {((last.text or last.caption or '')[:40]) if last else None!r}")
            waiter = loop.create_future()
            self.waiting[chat.id] = waiter
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, remaining)


async def run_flows(answers: Answers, user: Any, flows: list[Flow], scheme: Any,
                    photos: dict[str, bytes]) -> int:
    """One ambassador's flows, step by step; returns the number of updates sent."""
    sent = 0
    question = None
    for flow in flows:
        for step in steps(flow, scheme):
            start = len(user.chat.bot_activity)
            if step.action == "command" or step.action == "text":
                await user.send_text(step.value)
            elif step.action == "photo":
                await user.send_photo(photos[flow.tag])
            else:
                label = step.value
                if callable(label):
                    assert question is not None
                    label = label([text for row in question.buttons for text, _ in row])
                await user.press(label, question)
            sent += 1
            question = await answers.said(user, start, step.expect)
    return sent


async def run_echoes(answers: Answers, user: Any, count: int) -> int:
    for index in range(count):
        start = len(user.chat.bot_activity)
        text = f"echo {user.id} {index}"
        await user.send_text(text)
        await answers.said(user, start, text)
    return count


def _children_cpu() -> float:
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            total += times.user + times.system
    return total


def _children_peak_rss_kib() -> int:
    """The photo workers' high-water marks (VmHWM), summed."""
    import psutil

    total = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(OSError, psutil.Error):
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total


async def measure_window(emu: Any, drivers: list[Any], n_updates: int) -> dict[str, float]:
    """Run the drivers (one per user) and the figures of the window they take."""
    emu.reset_timings()
    cpu_start, children_start = time.process_time(), _children_cpu()
    wall_start = time.perf_counter()
    counts = await asyncio.gather(*drivers)
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start + _children_cpu() - children_start
    if sum(counts) != n_updates:
        raise AssertionError(f"{sum(counts)} updates sent, {n_updates} planned")
    if len(emu.reply_timings) != n_updates:
        raise AssertionError(f"{len(emu.reply_timings)} answers timed for {n_updates} updates")
    latencies = sorted(timing.latency for timing in emu.reply_timings)
    from bench._telegram_floor import percentile

    self_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers_kib = _children_peak_rss_kib()
    return {"updates": float(n_updates), "seconds": wall, "updates_per_s": n_updates / wall,
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
            "cpu_ms_per_update": cpu * 1000 / n_updates,
            "peak_rss_mib": (self_kib + workers_kib) / 1024, "workers_rss_mib": workers_kib / 1024}


# --------------------------------------------------------------------------------------------
# One measurement (a process of its own): the echo floor
# --------------------------------------------------------------------------------------------


async def child_echo(n_users: int, n_updates: int) -> dict[str, float]:
    from bench._telegram_floor import build_echo_app
    from bot.emulators.telegram import TelegramEmulator
    from storage.scheme import load_scheme

    scheme = load_scheme()
    plans = plan(n_users, n_updates, scheme)
    counts = [sum(len(steps(flow, scheme)) for flow in flows) for flows in plans]
    async with TelegramEmulator() as emu:
        answers = Answers(emu)
        users = [emu.user(FIRST_TELEGRAM_ID + index, f"Echo {index}") for index in range(n_users)]
        app = build_echo_app(emu)
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=10)
            try:
                return await measure_window(
                    emu, [run_echoes(answers, user, count) for user, count in zip(users, counts,
                                                                                 strict=True)],
                    sum(counts))
            finally:
                await app.updater.stop()
                await app.stop()


# --------------------------------------------------------------------------------------------
# One measurement: the whole bot
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _fresh_pg_database(pg_url: str) -> tuple[str, Callable[[], Any]]:
    """A new database on the server (and how to drop it), so nothing else there is touched."""
    from sqlalchemy import text

    from storage.db import make_engine

    name = f"bench_load_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()

    async def drop() -> None:
        engine = make_engine(pg_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()

    return pg_url.rsplit("/", 1)[0] + f"/{name}", drop


@dataclass
class Seeded:
    people: dict[int, int] = field(default_factory=dict)         # user index → person id
    engagements: dict[str, int] = field(default_factory=dict)    # seeded title → id


async def seed(db: Any, scheme: Any, n_users: int, per_user: int) -> Seeded:
    """The office, and the ambassadors with engagements held earlier today (one each to give
    feedback on, and to send photos of)."""
    from storage.models import Engagement, Person, Role
    from storage.operations.people import area_named, sync_scheme

    seeded = Seeded()
    now = dt.datetime.now(dt.UTC)
    async with db.transaction() as s:
        await sync_scheme(s, scheme)
        area_id = (await area_named(s, scheme.areas[0])).id
        for role in (Role.OFFICER, Role.COMMISSIONING, Role.COMMISSIONER):
            s.add(Person(name=f"Office {role.value}", roles=[role.value], telegram_id=None,
                         slack_id=f"UBENCH{role.value.upper()}", active=True,
                         monthly_hours=0))
        for index in range(n_users):
            person = Person(name=f"Ambassador {index}", roles=[Role.AMBASSADOR.value],
                            area_id=area_id, telegram_id=FIRST_TELEGRAM_ID + index, active=True,
                            monthly_hours=40)
            s.add(person)
            await s.flush()
            seeded.people[index] = person.id
            for number in range(per_user):
                starts = now - dt.timedelta(hours=3 + number)
                engagement = Engagement(
                    ambassador_id=person.id, area_id=area_id, title=seeded_title(index, number),
                    kind=scheme.engagement_kinds[0], place="Village Hall", starts_at=starts,
                    ends_at=starts + dt.timedelta(hours=1), reported_after=True, status="held",
                    created_at=now, updated_at=now)
                s.add(engagement)
                await s.flush()
                seeded.engagements[engagement.title] = engagement.id
    return seeded


async def _until(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _outbox_settled(db: Any) -> bool:
    from sqlalchemy import select

    from storage.models import Outbox

    async with db.transaction() as s:
        busy = await s.scalar(select(Outbox.id).where(Outbox.status.in_(["pending", "sending"]))
                              .limit(1))
    return busy is None


async def child_bot(engine_name: str, n_users: int, n_updates: int) -> dict[str, float]:
    import aiohttp

    from bot import runner
    from bot.emulators.slack import SlackEmulator
    from bot.emulators.telegram import TelegramEmulator
    from bot.settings import Settings
    from storage import migrate
    from storage.db import Database
    from storage.scheme import load_scheme

    scheme = load_scheme()
    plans = plan(n_users, n_updates, scheme)
    n_sent = sum(len(steps(flow, scheme)) for flows in plans for flow in flows)
    photos = {flow.tag: test_jpeg(seed) for seed, flow in enumerate(
        f for flows in plans for f in flows if f.kind == "photos")}
    drop: Callable[[], Any] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        if engine_name == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        else:
            url, drop = await _fresh_pg_database(os.environ["DATABASE_URL_PG"])
        try:
            await asyncio.to_thread(migrate.upgrade, url)
            db = Database(url)
            seeded = await seed(db, scheme, n_users, seeded_per_user(plans))
            port = _free_port()
            async with TelegramEmulator() as emu, SlackEmulator(
                    bot_token=SLACK_TOKEN, signing_secret=SLACK_SECRET,
                    app_url=f"http://127.0.0.1:{port}/slack/events") as slack:
                for key in ("engagements", "alerts", "media", "grants", "digest"):
                    slack.add_channel(getattr(scheme.channels, key))
                for role in ("OFFICER", "COMMISSIONING", "COMMISSIONER"):
                    slack.add_user(f"UBENCH{role}", role.lower())
                users = [emu.user(FIRST_TELEGRAM_ID + index, f"Ambassador {index}")
                         for index in range(n_users)]
                answers = Answers(emu)
                settings = Settings(
                    _env_file=None, database_url=url, telegram_bot_token=emu.token,
                    telegram_api_base_url=emu.base_url, slack_bot_token=SLACK_TOKEN,
                    slack_signing_secret=SLACK_SECRET, slack_api_base_url=slack.api_base_url,
                    http_host="127.0.0.1", http_port=port, media_dir=Path(tmp) / "media",
                    log_level="WARNING")
                stop = asyncio.Event()
                running = asyncio.create_task(runner.run(settings, scheme, stop=stop))
                try:
                    async with aiohttp.ClientSession() as http:
                        async def healthy() -> bool:
                            if running.done():
                                running.result()
                                raise AssertionError("the bot stopped")
                            try:
                                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                                    return r.status == 200
                            except aiohttp.ClientError:
                                return False
                        await _until(healthy, 60, "the bot to be healthy")
                    figures = await measure_window(
                        emu, [run_flows(answers, user, flows, scheme, photos)
                              for user, flows in zip(users, plans, strict=True)], n_sent)
                    await _until(lambda: _outbox_settled(db), 120, "the outbox to be sent")
                finally:
                    stop.set()
                    await running
                await check(db, emu, slack, scheme, plans, seeded, n_sent, users)
            await db.dispose()
        finally:
            if drop is not None:
                await drop()
    return figures


async def check(db: Any, emu: Any, slack: Any, scheme: Any, plans: list[list[Flow]],
                seeded: Seeded, n_sent: int, users: Sequence[Any]) -> None:
    """Every record exactly once, with what was typed; every outbox row sent once; each
    chat's flows confirmed in order. Raises AssertionError (which stops the bench)."""
    from sqlalchemy import func, select

    from storage.models import Engagement, Feedback, FollowUp, FormDraft, GrantRecommendation, \
        Media, Outbox, ProcessedUpdate

    problems: list[str] = []
    async with db.transaction() as s:
        engagements = (await s.execute(select(Engagement.title, Engagement.ambassador_id,
                                              Engagement.id))).all()
        feedback = (await s.execute(select(Feedback.summary, Feedback.ambassador_id,
                                           Feedback.engagement_id, Feedback.urgency,
                                           Feedback.id))).all()
        follow_ups = (await s.execute(select(FollowUp.feedback_id, FollowUp.urgency))).all()
        media = (await s.execute(select(Media.caption, Media.ambassador_id, Media.engagement_id,
                                        Media.safe_path))).all()
        grants = (await s.execute(select(GrantRecommendation.applicant_organisation,
                                         GrantRecommendation.ambassador_id,
                                         GrantRecommendation.amount_pence))).all()
        outbox = (await s.scalars(select(Outbox))).all()
        processed = await s.scalar(select(func.count()).select_from(ProcessedUpdate))
        processed_keys = await s.scalar(
            select(func.count(func.distinct(ProcessedUpdate.key))))
        drafts = await s.scalar(select(func.count()).select_from(FormDraft))

    def once(rows: Sequence[Any], key: str, what: str) -> Any:
        found = [row for row in rows if row[0] is not None and row[0].startswith(key)]
        if len(found) != 1:
            problems.append(f"{what}: {len(found)} records, not 1")
            return None
        return found[0]

    expected_rows: Counter[str] = Counter()
    for user, flows in enumerate(plans):
        person = seeded.people[user]
        for flow in flows:
            what = f"ambassador {user}'s {flow.kind} {flow.number}"
            if flow.kind == "prenotify":
                row = once(engagements, f"Load bench meeting {flow.tag}", what)
                if row and row.ambassador_id != person:
                    problems.append(f"{what}: filed for someone else")
                expected_rows["engagement_prenotified"] += 1
            elif flow.kind == "feedback":
                row = once(feedback, f"Load bench summary {flow.tag}:", what)
                expected_rows["feedback_filed"] += 1
                if row:
                    if (row.ambassador_id, row.engagement_id) != (
                            person, seeded.engagements[flow.engagement]):
                        problems.append(f"{what}: on the wrong engagement or person")
                    urgent = [f for f in follow_ups if f.feedback_id == row.id]
                    if flow.urgent:
                        expected_rows["follow_up_alert"] += 1
                        if row.urgency != "urgent" or [f.urgency for f in urgent] != ["urgent"]:
                            problems.append(f"{what}: the urgent follow-up is not there once")
                    elif urgent or row.urgency != "routine":
                        problems.append(f"{what}: a follow-up nobody asked for")
            elif flow.kind == "photos":
                row = once(media, f"Load bench photo {flow.tag}", what)
                expected_rows["media_received"] += 1
                if row and ((row.ambassador_id, row.engagement_id) != (
                        person, seeded.engagements[flow.engagement]) or not row.safe_path):
                    problems.append(f"{what}: wrong engagement or person, or not stored")
            else:
                row = once(grants, f"Load bench club {flow.tag}", what)
                expected_rows["grant_recommended"] += 1
                if row and (row.ambassador_id, row.amount_pence) != (person, 5000):
                    problems.append(f"{what}: wrong person or amount")
    n_flows = sum(len(flows) for flows in plans)
    records = (sum(r.title.startswith("Load bench") for r in engagements) + len(feedback)
               + len(media) + len(grants))
    if records != n_flows:
        problems.append(f"{records} records for {n_flows} flows")
    if processed != n_sent or processed_keys != n_sent:
        problems.append(f"{processed} updates recorded as processed ({processed_keys} "
                        f"distinct) for {n_sent} sent")
    if drafts:
        problems.append(f"{drafts} drafts left after every flow was submitted")

    # The outbox: each row sent, once; what Slack shows is exactly the rows.
    by_event = Counter(row.event for row in outbox)
    for event, count in expected_rows.items():
        if by_event[event] != count:
            problems.append(f"outbox: {by_event[event]} {event} rows, {count} expected")
    for row in outbox:
        if row.status != "sent":
            problems.append(f"outbox row {row.id} ({row.event}) is {row.status}")
    shown: Counter[str] = Counter()
    for key in ("engagements", "alerts", "media", "grants", "digest"):
        for message in slack.messages(getattr(scheme.channels, key)):
            if message.thread_ts in (None, message.ts) and not message.deleted:
                shown[f"{message.channel}:{message.ts}"] += 1
    sent_ids = Counter(row.external_id for row in outbox if row.transport == "slack")
    if sum(shown.values()) != sum(sent_ids.values()) or any(n != 1 for n in sent_ids.values()):
        problems.append(f"Slack shows {sum(shown.values())} posts for "
                        f"{sum(sent_ids.values())} outbox rows ({len(sent_ids)} distinct)")
    elif set(shown) != set(sent_ids):
        problems.append("Slack's posts are not the outbox's rows")

    # Per-chat order: each ambassador's confirmations came in the order of their flows, once.
    for user, flows in zip(users, plans, strict=True):
        confirmations = [kind for message in user.chat.messages if message.from_bot
                         for kind, fragment in CONFIRMATION.items()
                         if fragment in (message.text or "")]
        if confirmations != [flow.kind for flow in flows]:
            problems.append(f"chat {user.id}: confirmations out of order, missing or doubled")
    if problems:
        raise AssertionError(f"{len(problems)} problem(s): " + "; ".join(problems[:20]))


# --------------------------------------------------------------------------------------------
# The benchmark: rounds of child processes
# --------------------------------------------------------------------------------------------

METRICS = (("updates_per_s", "updates/s"), ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"),
           ("cpu_ms_per_update", "CPU ms/update"), ("peak_rss_mib", "peak RSS MiB"))


def run_child(variant: str, sizes: Sizes) -> dict[str, float]:
    """One measurement in a fresh process; a broken run stops the bench."""
    command = [sys.executable, "-m", "bench", "load", "--child", variant,
               "--users", str(sizes.n_users), "--updates", str(sizes.n_updates)]
    done = subprocess.run(command, cwd=ROOT, text=True, capture_output=True, timeout=1800)
    if done.returncode != 0:
        print(done.stdout[-2000:], file=sys.stderr)
        print(done.stderr[-6000:], file=sys.stderr)
        print(f"load: the {variant} run failed (exit {done.returncode}); stopping the bench",
              file=sys.stderr)
        sys.exit(1)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    if "--child" in argv:
        child_main(argv)
        return
    sizes = SIZES["quick" if "--quick" in argv else "default"]
    sizes = Sizes(rounds=int(_option(argv, "--rounds", sizes.rounds)),
                  n_updates=int(_option(argv, "--updates", sizes.n_updates)),
                  n_users=int(_option(argv, "--users", sizes.n_users)))
    variants = ["echo", "sqlite"] + (["postgresql"] if os.environ.get("DATABASE_URL_PG") else [])
    from storage.scheme import load_scheme

    plans = plan(sizes.n_users, sizes.n_updates, load_scheme())
    kinds = Counter(flow.kind for flows in plans for flow in flows)
    n_sent = sum(len(steps(flow, load_scheme())) for flows in plans for flow in flows)
    print(f"load benchmark: {sizes}; {n_sent} updates in "
          + ", ".join(f"{kinds[k]} {k}" for k in FLOWS)
          + f" ({sum(f.urgent for flows in plans for f in flows)} urgent follow-ups); "
          f"python {sys.version.split()[0]}; {os.cpu_count()} cores; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; PostgreSQL "
          f"{'on' if 'postgresql' in variants else 'off (DATABASE_URL_PG not set)'}", flush=True)
    results: dict[str, list[dict[str, float]]] = {variant: [] for variant in variants}
    started = time.perf_counter()
    for number in range(sizes.rounds):
        order = variants[number % len(variants):] + variants[:number % len(variants)]
        for variant in order:
            results[variant].append(run_child(variant, sizes))
        print(f"  round {number + 1}/{sizes.rounds} done ({' '.join(order)}; "
              f"{time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f})",
              file=sys.stderr, flush=True)
    labels = {"echo": "echo", "sqlite": "mixed flows, SQLite",
              "postgresql": "mixed flows, PostgreSQL"}
    print(f"\n## {n_sent} updates from {sizes.n_users} users, closed loop, {sizes.rounds} "
          "round(s), median (min–max)")
    print("| variant | " + " | ".join(label for _, label in METRICS) + " |")
    print("| --- |" + " --- |" * len(METRICS))
    for variant, runs in results.items():
        cells = [median_range([run[key] for run in runs]) for key, _ in METRICS]
        print(f"| {labels[variant]} | " + " | ".join(cells) + " |")
    workers = [run["workers_rss_mib"] for v in variants[1:] for run in results[v]]
    print(f"(peak RSS of the bot includes its photo workers: {median_range(workers)} MiB; "
          "every run checked: records once, outbox rows sent once, per-chat order)")
    print("\nratios to echo, pair by pair within a round, median (min–max):")
    headline = float("nan")
    echo = results["echo"]
    for variant in variants[1:]:
        runs = results[variant]
        for key, label in METRICS:
            ratios = pairwise_ratios([r[key] for r in runs], [r[key] for r in echo])
            print(f"  {variant} {label}: {median_range(ratios)}")
            if variant == "sqlite" and key == "updates_per_s":
                headline = statistics.median(ratios)
    print(f"load: {headline:.2f} mixed-flow/echo updates per second (SQLite)")


def _option(argv: Sequence[str], name: str, default: Any) -> Any:
    if name in argv:
        return argv[argv.index(name) + 1]
    return default


def child_main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    variant = _option(argv, "--child", "")
    n_users = int(_option(argv, "--users", 100))
    n_updates = int(_option(argv, "--updates", 5000))
    if variant == "echo":
        figures = asyncio.run(child_echo(n_users, n_updates))
    else:
        figures = asyncio.run(child_bot(variant, n_users, n_updates))
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1:])
