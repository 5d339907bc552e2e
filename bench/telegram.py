"""`python -m bench telegram [--quick]`: one form step of the real bot against a bare PTB echo bot.

In one run, interleaved round by round (echo, bot on SQLite[, bot on PostgreSQL], echo, …), both
bots poll the Telegram Bot API emulator and answer N updates from 100 users, first as a burst
(every update injected before the bots get to run) and then paced at 50 updates/s.

The real bot is built as the tests build it (``handlers.telegram.app.build_application`` with
``Services(db, scheme, clock)``, per-chat ordering, 16 concurrent). Its 100 ambassadors are
seeded in the database, each in the middle of a form whose current question is free text, so
every update is one form step: the typed answer is validated, saved as the FormDraft with the
update marked processed in the same transaction, and the next question is sent. The form is
the grant form's "applicant_organisation" question repeated (``organisation_0``,
``organisation_1``, …), so that every one of a user's answers lands on a free-text question,
however many each user sends.

After every run the database and the emulator's transcripts are checked: each user's draft
holds their answers in the order they were sent, every update is recorded as processed, and
each chat got one question per answer, in order. A run that breaks any of that stops the
benchmark.

Figures: updates/s, p50/p99 latency (update injected → answering sendMessage at the emulator),
CPU ms per update (the whole process, emulator included, for both bots). Ratios to echo are
taken pair by pair within a round. PostgreSQL is measured too when DATABASE_URL_PG is set (in
a schema of its own, dropped afterwards). The last line is
``telegram: <ratio> form-step/echo updates per second`` (SQLite, burst).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text

from bench._telegram_floor import drive, run_echo_floor
from bench.common import median_range, pairwise_ratios
from bot.emulators.telegram import FakeUser, TelegramEmulator
from handlers.forms import engine, flows
from handlers.telegram.app import build_application
from handlers.telegram.context import Services
from handlers.telegram.ordering import ChatOrderedProcessor
from handlers.telegram.polling import ConfirmingPoller
from storage.db import Database
from storage.models import Base, FormDraft, Person, ProcessedUpdate, Role
from storage.operations import drafts
from storage.operations.people import area_named, sync_scheme
from storage.scheme import Scheme, load_scheme

log = logging.getLogger(__name__)

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
FIRST_TELEGRAM_ID = 500_000  # far from the echo floor's users and the tests' ids
FORM_NAME = "bench_organisations"
TRANSPORT = "telegram"
PACED_RATE = 50.0  # updates per second


@dataclass(frozen=True)
class Sizes:
    """How much one invocation measures."""

    rounds: int
    n_updates: int
    n_users: int
    paced_rounds: int
    paced_updates: int


SIZES = {
    "default": Sizes(rounds=5, n_updates=5000, n_users=100, paced_rounds=3, paced_updates=1500),
    "quick": Sizes(rounds=3, n_updates=1000, n_users=100, paced_rounds=1, paced_updates=250),
    "smoke": Sizes(rounds=1, n_updates=60, n_users=6, paced_rounds=1, paced_updates=10),
}


# --------------------------------------------------------------------------------------------
# The form every seeded ambassador is in the middle of
# --------------------------------------------------------------------------------------------


def bench_form(questions: int) -> engine.Form:
    """The grant form's free-text "applicant_organisation" question, ``questions`` times over.

    Prompts are numbered so the transcripts show which question each reply asks. Registered
    with the engine (the conversation finds forms by name); only this process sees it.
    """
    base = flows.GRANT.field("applicant_organisation")
    fields = tuple(dataclasses.replace(base, name=f"organisation_{index}",
                                       prompt=f"{base.prompt} ({index + 1})")
                   for index in range(questions))
    form = engine.Form(name=FORM_NAME, title="Benchmark", command="", fields=fields,
                       submit=flows.GRANT.submit)
    return engine.register(form)


def initial_state(form: engine.Form) -> dict[str, Any]:
    """A draft whose current question is the form's first, as after the user began it (as
    it is stored)."""
    state = engine.new_state(form)
    engine.advance(form, state)
    return state.to_json()


def answer_text(user_index: int, answer_index: int) -> str:
    return f"Much Wenlock Youth Club {user_index}/{answer_index}"


def plan_sends(users: Sequence[FakeUser], n_updates: int) -> list[tuple[FakeUser, str]]:
    """User by user in turn (1, 2, … 100, 1, 2, …): n_updates answers in all."""
    return [(users[index % len(users)], answer_text(index % len(users), index // len(users)))
            for index in range(n_updates)]


# --------------------------------------------------------------------------------------------
# The database
# --------------------------------------------------------------------------------------------


class BenchDb:
    """A database with the schema, the scheme's areas and ``n_users`` ambassadors."""

    def __init__(self, label: str, db: Database, *, pg_schema: str | None = None,
                 tmpdir: tempfile.TemporaryDirectory[str] | None = None) -> None:
        self.label = label
        self.db = db
        self.pg_schema = pg_schema
        self.tmpdir = tmpdir
        self.people: dict[int, int] = {}  # telegram id → person id

    @classmethod
    async def sqlite(cls) -> BenchDb:
        tmpdir = tempfile.TemporaryDirectory(prefix="bench-telegram-")
        db = Database(f"sqlite+aiosqlite:///{Path(tmpdir.name) / 'bench.db'}")
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        return cls("sqlite", db, tmpdir=tmpdir)

    @classmethod
    async def postgres(cls, url: str) -> BenchDb:
        """A schema of its own on the server, so nothing else there is touched."""
        schema = f"bench_telegram_{uuid.uuid4().hex[:10]}"
        admin = Database(url, pool_size=1, max_overflow=0)
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
        db = Database(url, connect_args={"server_settings": {"search_path": schema}})
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        return cls("postgresql", db, pg_schema=schema)

    async def seed(self, scheme: Scheme, n_users: int) -> None:
        area = scheme.areas[0]
        async with self.db.transaction() as s:
            await sync_scheme(s, scheme)
            area_id = (await area_named(s, area)).id
            for index in range(n_users):
                person = Person(name=f"Ambassador {index}", roles=[Role.AMBASSADOR.value],
                                area_id=area_id, telegram_id=FIRST_TELEGRAM_ID + index,
                                active=True, monthly_hours=40)
                s.add(person)
                await s.flush()
                self.people[person.telegram_id] = person.id

    async def reset(self, scheme: Scheme, form: engine.Form) -> None:
        """Every ambassador back at the form's first question; no update recorded yet."""
        async with self.db.transaction() as s:
            await s.execute(delete(ProcessedUpdate))
            for person_id in self.people.values():
                person = await s.get(Person, person_id)
                assert person is not None
                await drafts.save_draft(s, scheme, person, TRANSPORT, form.name,
                                        initial_state(form), now=NOW)

    async def check(self, emu: TelegramEmulator, form: engine.Form,
                    sends: Sequence[tuple[FakeUser, str]], scheme: Scheme) -> None:
        """Each draft holds its user's answers in the order sent; each update was recorded
        once; each chat got one question per answer, asked in order."""
        sent: dict[int, list[str]] = {}
        for user, typed in sends:
            sent.setdefault(user.id, []).append(typed)
        async with self.db.transaction() as s:
            processed = await s.scalar(select(func.count()).select_from(ProcessedUpdate))
            rows = (await s.execute(select(Person.telegram_id, FormDraft.state).join(
                FormDraft, FormDraft.person_id == Person.id).where(
                    FormDraft.transport == TRANSPORT))).all()
        if processed != len(sends):
            raise AssertionError(f"{self.label}: {processed} updates recorded as processed, "
                                 f"{len(sends)} sent")
        states = {telegram_id: state for telegram_id, state in rows}
        for telegram_id, typed in sent.items():
            state = states[telegram_id]
            expected = {f"organisation_{index}": answer for index, answer in enumerate(typed)}
            if state["answers"] != expected or state["step"] != f"organisation_{len(typed)}":
                raise AssertionError(f"{self.label}: user {telegram_id}'s draft is out of order "
                                     f"or incomplete: step {state['step']!r}")
            asked = [message.text or "" for message in emu.chat(telegram_id).bot_activity]
            wanted = [form.field(f"organisation_{index}").question(scheme)
                      for index in range(1, len(typed) + 1)]
            if asked != wanted:
                raise AssertionError(f"{self.label}: user {telegram_id} was asked "
                                     f"{len(asked)} questions, not the {len(wanted)} expected "
                                     "in order")

    async def close(self) -> None:
        await self.db.dispose()
        if self.pg_schema is not None:
            admin = Database(self.db.url, pool_size=1, max_overflow=0)
            async with admin.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{self.pg_schema}" CASCADE'))
            await admin.dispose()
        if self.tmpdir is not None:
            self.tmpdir.cleanup()


async def open_databases(scheme: Scheme, n_users: int) -> list[BenchDb]:
    """SQLite always; PostgreSQL as well when DATABASE_URL_PG is set."""
    databases = [await BenchDb.sqlite()]
    if url := os.environ.get("DATABASE_URL_PG"):
        databases.append(await BenchDb.postgres(url))
    for database in databases:
        await database.seed(scheme, n_users)
    return databases


# --------------------------------------------------------------------------------------------
# Running the real bot
# --------------------------------------------------------------------------------------------


async def run_form_bot(emu: TelegramEmulator, database: BenchDb, scheme: Scheme,
                       form: engine.Form, n_updates: int, n_users: int, *,
                       rate: float | None = None, concurrency: int = 16,
                       timeout: float = 600.0, ptb_updater: bool = False) -> dict[str, float]:
    """The real bot answering ``n_updates`` typed answers from ``n_users`` ambassadors."""
    await database.reset(scheme, form)
    users = [emu.user(FIRST_TELEGRAM_ID + index, f"Ambassador {index}")
             for index in range(n_users)]
    sends = plan_sends(users, n_updates)
    services = Services(db=database.db, scheme=scheme, clock=lambda: NOW)
    app = build_application(emu.token, services, api_base_url=emu.base_url,
                            api_file_url=emu.base_file_url, concurrency=concurrency)
    if isinstance(app.update_processor, ChatOrderedProcessor):
        # In a burst each user has dozens of answers queued at once, and the bot would rightly
        # ask each of them once to slow down. That extra message is not a form step and would
        # be paired with an update as its answer, so the warning is kept out of the measure.
        app.update_processor.flood_queue = n_updates + 1
    await app.initialize()
    try:
        await app.start()
        # By default the poller `python -m bot run` uses (it confirms an update only once
        # handled); `ptb_updater`: PTB's own, as the echo floor fetches (it confirms an update
        # as soon as it is queued).
        poller = None if ptb_updater else ConfirmingPoller(app, timeout=10)
        if poller is not None:
            await poller.start()
        else:
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=10)
        try:
            result = await drive(emu, sends, rate=rate, timeout=timeout)
        finally:
            if poller is not None:
                await poller.stop(grace=10)
            else:
                await app.updater.stop()  # type: ignore[union-attr]
            await app.stop()
    finally:
        await app.shutdown()
    await database.check(emu, form, sends, scheme)
    return result


async def fresh_emulator(latency: float = 0.0) -> TelegramEmulator:
    emu = TelegramEmulator()
    await emu.start()
    emu.latency = latency
    return emu


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------

METRICS = (("updates_per_s", "updates/s"), ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"),
           ("cpu_ms_per_update", "CPU ms/update"))


def print_table(title: str, results: dict[str, list[dict[str, float]]]) -> None:
    """A markdown table: each variant's medians (min–max) over the rounds."""
    print(f"\n{title}")
    print("| variant | " + " | ".join(label for _, label in METRICS) + " |")
    print("| --- |" + " --- |" * len(METRICS))
    for variant, runs in results.items():
        cells = [median_range([run[key] for run in runs]) for key, _ in METRICS]
        print(f"| {variant} | " + " | ".join(cells) + " |")


def ratio_line(label: str, numerators: Sequence[float], denominators: Sequence[float]) -> float:
    ratios = pairwise_ratios(numerators, denominators)
    print(f"  {label}: {median_range(ratios)}")
    return statistics.median(ratios)


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


async def measure(sizes: Sizes) -> float:
    scheme = load_scheme()
    per_user = -(-max(sizes.n_updates, sizes.paced_updates) // sizes.n_users)
    form = bench_form(per_user + 1)
    databases = await open_databases(scheme, sizes.n_users)
    headline = float("nan")
    try:
        for mode, rounds, n_updates, rate in (
                ("burst", sizes.rounds, sizes.n_updates, None),
                (f"paced at {PACED_RATE:g} updates/s", sizes.paced_rounds, sizes.paced_updates,
                 PACED_RATE)):
            results: dict[str, list[dict[str, float]]] = {"echo": []}
            results.update({f"form step, {d.label}": [] for d in databases})
            started = time.perf_counter()
            for number in range(rounds):
                emu = await fresh_emulator()
                try:
                    results["echo"].append(await run_echo_floor(emu, n_updates, sizes.n_users,
                                                                rate=rate))
                finally:
                    await emu.stop()
                for database in databases:
                    emu = await fresh_emulator()
                    try:
                        results[f"form step, {database.label}"].append(await run_form_bot(
                            emu, database, scheme, form, n_updates, sizes.n_users, rate=rate))
                    finally:
                        await emu.stop()
                print(f"  {mode}: round {number + 1}/{rounds} done "
                      f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
            print_table(f"## {mode}: {n_updates} updates from {sizes.n_users} users, "
                        f"{rounds} round(s), median (min–max)", results)
            echo = results["echo"]
            print("ratios to echo, pair by pair within a round, median (min–max):")
            for database in databases:
                runs = results[f"form step, {database.label}"]
                throughput = ratio_line(f"{database.label} updates/s (target >= 0.7)",
                                        [r["updates_per_s"] for r in runs],
                                        [r["updates_per_s"] for r in echo])
                ratio_line(f"{database.label} p50 (target <= 1.4)",
                           [r["p50_ms"] for r in runs], [r["p50_ms"] for r in echo])
                ratio_line(f"{database.label} p99", [r["p99_ms"] for r in runs],
                           [r["p99_ms"] for r in echo])
                ratio_line(f"{database.label} CPU per update",
                           [r["cpu_ms_per_update"] for r in runs],
                           [r["cpu_ms_per_update"] for r in echo])
                if rate is None and database.label == "sqlite":
                    headline = throughput
    finally:
        for database in databases:
            await database.close()
    return headline


def sizes_for(argv: Sequence[str]) -> Sizes:
    if "--smoke" in argv:
        return SIZES["smoke"]
    return SIZES["quick"] if "--quick" in argv else SIZES["default"]


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sizes = sizes_for(argv)
    print(f"telegram benchmark: {sizes}; python {sys.version.split()[0]}; "
          f"{os.cpu_count()} cores; PostgreSQL "
          f"{'on' if os.environ.get('DATABASE_URL_PG') else 'off (DATABASE_URL_PG not set)'}")
    ratio = asyncio.run(measure(sizes))
    print(f"telegram: {ratio:.2f} form-step/echo updates per second")


if __name__ == "__main__":
    main(sys.argv[1:])
