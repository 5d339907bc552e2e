"""`python -m bench digest [--quick]`: the weekly digest as history grows (DESIGN §11).

Data: the Essex scheme (14 districts, an ambassador each) with WEEKLY engagements every week
for as many weeks as it takes to reach 10k, 100k and 1M engagements — the same week-to-week
volume, ten times the history each step, which is how a scheme's database grows. About 85 %
of past engagements have feedback (with one to three demographic groups and one or two topics
each), a tenth of those a follow-up, one in five a photo, one in two an hours entry, one in 200
a grant recommendation. The last two weeks are still planned. Rows are written in bulk
(sqlite3 executemany; asyncpg COPY on PostgreSQL), then ANALYZE.

All sizes are loaded first, then measured in rounds that run every size and both variants
(the order rotating), each inside a transaction, so that size-to-size ratios are taken pair by
pair within a round and the machine's drift cancels:

- digest: `scheduler.digest.build_digest` for the last complete week (every figure of the
  digest: four statements of indexed parts);
- floor: one indexed aggregate query over the same week (engagements by area and status).

Targets: ≤ 50 ms at 1M engagements on SQLite, and ≤ 3× the time for 10× the rows.
PostgreSQL runs too when DATABASE_URL_PG is set (databases `bench_digest_<size>` are made
there). Last line: `digest: <ratio> digest time at <largest>/<ten times fewer> engagements,
round by round (SQLite; ...); <ms> at <largest>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import func, select, text

from bench.common import median_range, pairwise_ratios
from scheduler.digest import build_digest, local_midnight, monday_of
from storage.db import Database
from storage.models import Base, Engagement, Person, Role
from storage.operations.people import sync_scheme
from storage.scheme import load_scheme

REPO = Path(__file__).resolve().parent.parent
SCHEME = load_scheme(REPO / "schemes" / "essex.yaml")
WEEKLY = 200
END = dt.datetime(2026, 11, 23, 0, 0, tzinfo=dt.UTC)   # Monday; data runs up to two weeks on
SIZES = {"default": ([10_000, 100_000, 1_000_000], 30), "quick": ([10_000, 100_000], 9)}
TARGET_MS, TARGET_SCALING = 50.0, 3.0


# ---- data ----------------------------------------------------------------------------------


def _stamp(moment: dt.datetime) -> str:
    """How SQLAlchemy's SQLite DateTime stores a (UTC, naive) moment."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


class Rows:
    """The generated rows, as tuples in column order, shared by both loaders."""

    def __init__(self, count: int, ambassadors: list[tuple[int, int]], seed: int = 7) -> None:
        rng = random.Random(seed)
        weeks = count // WEEKLY
        first = END + dt.timedelta(weeks=2) - dt.timedelta(weeks=weeks)
        groups, topics = SCHEME.demographic_groups, SCHEME.topics
        self.engagements: list[tuple] = []
        self.feedback: list[tuple] = []
        self.groups: list[tuple] = []
        self.topics: list[tuple] = []
        self.follow_ups: list[tuple] = []
        self.media: list[tuple] = []
        self.hours: list[tuple] = []
        self.grants: list[tuple] = []
        statuses = ["open", "acknowledged", "done"]
        for i in range(count):
            engagement_id = i + 1
            ambassador, area = ambassadors[i % len(ambassadors)]
            starts = first + dt.timedelta(weeks=i // WEEKLY,
                                          minutes=rng.randrange(7 * 24 * 60 // 15) * 15)
            ends = starts + dt.timedelta(hours=2)
            future = starts >= END
            cancelled = not future and rng.random() < 0.05
            filed = not future and not cancelled and rng.random() < 0.9
            status = "planned" if future or not filed and not cancelled else (
                "cancelled" if cancelled else "held")
            self.engagements.append((engagement_id, ambassador, area, f"Engagement {i}", "Other",
                                     "Village hall", starts, ends, status, starts - dt.timedelta(
                                         days=7), starts - dt.timedelta(days=7), ends))
            if i % 2 == 0:
                self.hours.append((len(self.hours) + 1, ambassador, starts.date(), 120,
                                   engagement_id, ends))
            if i % 5 == 0:
                self.media.append((len(self.media) + 1, engagement_id, ambassador, "photo",
                                   rng.choice(["approved", "rejected", "pending"]), ends))
            if i % 200 == 0:
                self.grants.append((len(self.grants) + 1, ambassador, area, engagement_id,
                                    "Org", "contact", "Project", 50_000, rng.choice(
                                        ["approved", "rejected", "approved", "withdrawn"])
                                    if not future else "recommended", ends, ends, ends))
            if not filed:
                continue
            feedback_id = len(self.feedback) + 1
            submitted = ends + dt.timedelta(hours=rng.randrange(1, 48))
            follow_up = rng.random() < 0.1
            self.feedback.append((feedback_id, engagement_id, ambassador, rng.randrange(5, 80),
                                  "Summary", "Outcome" if rng.random() < 0.5 else None,
                                  "office" if follow_up else "none",
                                  rng.choice(["routine", "attention", "urgent"]) if follow_up
                                  else "routine", submitted))
            for name in rng.sample(groups, rng.randrange(1, 4)):
                self.groups.append((feedback_id, name))
            for name in rng.sample(topics, rng.randrange(1, 3)):
                self.topics.append((feedback_id, name))
            if follow_up:
                due = submitted + dt.timedelta(days=7)
                state = statuses[2] if due < END - dt.timedelta(days=14) else rng.choice(statuses)
                self.follow_ups.append((len(self.follow_ups) + 1, feedback_id, engagement_id,
                                        "office", "urgent", "Detail", state, due, submitted,
                                        due if state == "done" else None))

    @property
    def total(self) -> int:
        return sum(len(x) for x in (self.engagements, self.feedback, self.groups, self.topics,
                                    self.follow_ups, self.media, self.hours, self.grants))


COLUMNS = {
    "engagements": ["id", "ambassador_id", "area_id", "title", "kind", "place", "starts_at",
                    "ends_at", "status", "notice_given_at", "created_at", "updated_at"],
    "feedback": ["id", "engagement_id", "ambassador_id", "attendees", "summary", "outcomes",
                 "follow_up_needed", "urgency", "submitted_at"],
    "feedback_groups": ["feedback_id", "name"],
    "feedback_topics": ["feedback_id", "name"],
    "follow_ups": ["id", "feedback_id", "engagement_id", "needed_by", "urgency", "detail",
                   "status", "due_at", "created_at", "done_at"],
    "media": ["id", "engagement_id", "ambassador_id", "kind", "review_status", "created_at"],
    "hours_entries": ["id", "person_id", "worked_on", "minutes", "engagement_id", "created_at"],
    "grant_recommendations": ["id", "ambassador_id", "area_id", "engagement_id",
                              "applicant_organisation", "applicant_contact", "project",
                              "amount_pence", "status", "decided_at", "created_at",
                              "updated_at"],
}
DEFAULTS = {"engagements": {"reported_after": 0, "feedback_nudges": 0},
            "feedback": {}, "media": {"consent_given": 1, "children_present": 0,
                                      "guardian_consent": 0}}


def _tables(rows: Rows) -> dict[str, list[tuple]]:
    return {"engagements": rows.engagements, "feedback": rows.feedback,
            "feedback_groups": rows.groups, "feedback_topics": rows.topics,
            "follow_ups": rows.follow_ups, "media": rows.media, "hours_entries": rows.hours,
            "grant_recommendations": rows.grants}


async def _people(db: Database) -> list[tuple[int, int]]:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with db.transaction() as session:
        await sync_scheme(session, SCHEME)
        ambassadors = []
        for index, area in enumerate(SCHEME.areas):
            area_id = await session.scalar(text("SELECT id FROM areas WHERE name = :n"),
                                           {"n": area})
            person = Person(name=f"Ambassador {index}", roles=[Role.AMBASSADOR.value],
                            area_id=area_id, telegram_id=10_000 + index, monthly_hours=40)
            session.add(person)
            await session.flush()
            ambassadors.append((person.id, area_id))
        return ambassadors


def _load_sqlite(path: Path, rows: Rows) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    for table, data in _tables(rows).items():
        columns = COLUMNS[table] + list(DEFAULTS.get(table, {}))
        extra = tuple(DEFAULTS.get(table, {}).values())
        converted = ([tuple(_stamp(v) if isinstance(v, dt.datetime) else
                            v.isoformat() if isinstance(v, dt.date) else v for v in row) + extra
                      for row in data])
        conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                         f"({', '.join('?' * len(columns))})", converted)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


async def _load_postgres(db: Database, rows: Rows) -> None:
    async with db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        for table, data in _tables(rows).items():
            columns = COLUMNS[table] + list(DEFAULTS.get(table, {}))
            extra = tuple(bool(v) for v in DEFAULTS.get(table, {}).values())
            await raw.copy_records_to_table(table, records=[row + extra for row in data],
                                            columns=columns)
        for table in _tables(rows):
            await raw.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT coalesce(max(id), 1) FROM {table}), true)"
                              if table not in ("feedback_groups", "feedback_topics") else
                              "SELECT 1")
        await raw.execute("ANALYZE")


# ---- measuring -----------------------------------------------------------------------------


async def load_history(url: str, count: int, dialect: str, path: Path | None) -> Database:
    db = Database(url)
    began = time.perf_counter()
    ambassadors = await _people(db)
    rows = Rows(count, ambassadors)
    if dialect == "sqlite":
        await db.engine.dispose()
        assert path is not None
        _load_sqlite(path, rows)
    else:
        await _load_postgres(db, rows)
    print(f"  {dialect}: {count:,} engagements loaded ({rows.total:,} rows) in "
          f"{time.perf_counter() - began:.0f} s", flush=True)
    return db


async def fresh_pg(base_url: str, name: str) -> str:
    admin = Database(base_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.engine.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            await conn.execute(text(f"CREATE DATABASE {name}"))
    finally:
        await admin.dispose()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


def _report(dialect: str, sizes: list[int], digests: dict[int, list[float]],
            floors: dict[int, list[float]]) -> dict[str, float]:
    for count in sizes:
        print(f"  {dialect} {count:>9,}: digest {median_range(digests[count])} ms, floor "
              f"{median_range(floors[count])} ms, digest/floor "
              f"{median_range(pairwise_ratios(digests[count], floors[count]))}")
    scaling: dict[str, float] = {}
    for small, big in zip(sizes, sizes[1:]):
        ratios = pairwise_ratios(digests[big], digests[small])
        scaling[f"{big}/{small}"] = statistics.median(ratios)
        print(f"  {dialect}: {big:,} vs {small:,} engagements: {median_range(ratios)}× the "
              f"time, round by round (target ≤ {TARGET_SCALING:g}×)")
    return scaling


@contextlib.asynccontextmanager
async def sized_databases(tmp: str, dialect: str, sizes: list[int], name: str,
                          pg: str | None) -> AsyncIterator[dict[int, Database]]:
    """One loaded database per history size on `dialect` (SQLite files under `tmp`, fresh
    PostgreSQL databases named after `name`), disposed of afterwards."""
    databases: dict[int, Database] = {}
    try:
        for count in sizes:
            if dialect == "sqlite":
                path = Path(tmp) / f"{name}-{count}.db"
                databases[count] = await load_history(f"sqlite+aiosqlite:///{path}", count,
                                                      dialect, path)
            else:
                url = await fresh_pg(pg or "", f"bench_{name}_{count}")
                databases[count] = await load_history(url, count, dialect, None)
        yield databases
    finally:
        for db in databases.values():
            await db.dispose()


async def _main(sizes: list[int], rounds: int) -> tuple[dict[int, list[float]], float]:
    pg = os.environ.get("DATABASE_URL_PG")
    results: dict[int, list[float]] = {}
    scaling = float("nan")
    with tempfile.TemporaryDirectory(prefix="bench-digest-") as tmp:
        for dialect in ("sqlite", "postgresql"):
            if dialect == "postgresql" and not pg:
                continue
            async with sized_databases(tmp, dialect, sizes, "digest", pg) as databases:
                digests, floors = await _measure_all(databases, rounds)
            ratios = _report(dialect, sizes, digests, floors)
            if dialect == "sqlite":
                results = digests
                scaling = ratios[f"{sizes[-1]}/{sizes[-2]}"]
    return results, scaling


async def _measure_all(databases: dict[int, Database], rounds: int
                       ) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    """Every size and both variants in each round, the order rotating round by round."""
    week = monday_of((END - dt.timedelta(days=7)).date())
    start = local_midnight(week, SCHEME.tz)
    end = local_midnight(week + dt.timedelta(days=7), SCHEME.tz)
    floor_query = (select(Engagement.area_id, Engagement.status, func.count())
                   .where(Engagement.starts_at >= start, Engagement.starts_at < end)
                   .group_by(Engagement.area_id, Engagement.status))

    async def digest(db: Database) -> None:
        async with db.transaction() as session:
            await build_digest(session, SCHEME, week)

    async def floor(db: Database) -> None:
        async with db.transaction() as session:
            (await session.execute(floor_query)).all()

    work = [(count, variant) for count in databases for variant in ("digest", "floor")]
    for count, variant in work:                      # warm caches and statement caches
        await (digest if variant == "digest" else floor)(databases[count])
    times: dict[str, dict[int, list[float]]] = {"digest": {c: [] for c in databases},
                                                "floor": {c: [] for c in databases}}
    for number in range(rounds):
        shift = number % len(work)
        for count, variant in work[shift:] + work[:shift]:
            began = time.perf_counter()
            await (digest if variant == "digest" else floor)(databases[count])
            times[variant][count].append((time.perf_counter() - began) * 1000)
    return times["digest"], times["floor"]


def main(argv: list[str]) -> None:
    mode = "quick" if "--quick" in argv else "default"
    sizes, rounds = SIZES[mode]
    print(f"digest benchmark ({mode}): {WEEKLY} engagements a week over a growing history, "
          f"{rounds} interleaved rounds; python {sys.version.split()[0]}; PostgreSQL "
          f"{'on' if os.environ.get('DATABASE_URL_PG') else 'off (set DATABASE_URL_PG)'}",
          flush=True)
    digests, scaling = asyncio.run(_main(sizes, rounds))
    largest = sizes[-1]
    at_largest = statistics.median(digests[largest])
    print(f"  sqlite at {largest:,}: median {at_largest:.1f} ms, best {min(digests[largest]):.1f} "
          f"ms (target ≤ {TARGET_MS:g} ms at 1,000,000)")
    print(f"digest: {scaling:.2f} digest time at {largest:,}/{sizes[-2]:,} engagements, round "
          f"by round (SQLite; target ≤ {TARGET_SCALING:g}); {at_largest:.1f} ms at {largest:,}")


if __name__ == "__main__":
    main(sys.argv[1:])
