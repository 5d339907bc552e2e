"""`python -m bench sar [--quick | --smoke]`: a subject-access bundle for an ambassador with
years of history (issue 17: "produced within minutes for a person with years of history").

Data: the Essex scheme's 14 districts, an ambassador each, every one with the same history:
five engagements a week for five years (1,300 each, 18,200 in all), each held and with its
feedback, three messages to or about it (the notice and the feedback post in the engagements
channel, both naming the ambassador and the record; a nudge to the ambassador's phone) and two
audit lines (notified, feedback filed), and a photo for one engagement in five. The bundle is
for one of them, so it picks her rows out of fourteen times as many: about 9,400 records of
hers (1,300 engagements and feedback reports, 3,900 messages, 2,600 audit lines, 260 photos)
among about 131,000 rows. Her photos are on disk (300 kB full size and 20 kB thumbnail each,
random bytes, as incompressible as JPEGs), so the zip carries about 80 MB of them; the others'
rows name files that are not there, which the bundle never opens. Rows are written with bulk
Core inserts, then ANALYZE. `--quick` is two years, `--smoke` four weeks of one a week.

Measured in interleaved rounds (5 by default), which variant goes first alternating:

- bundle: `storage.subject_access.person_bundle` in one transaction, then `write_bundle` to a
  zip in a temporary directory (records.json, summary.html, manifest.json and her photos),
  checked each time: exactly her rows, and both files of each photo;
- floor: every row of the tables the bundle has to look through (engagements, feedback, media,
  outbox, audit_events) read into Python in one transaction, which no bundle can beat: a
  message names her records only inside its data, so the outbox is read whole.

SQLite, and PostgreSQL when DATABASE_URL_PG is set (a fresh database `bench_sar` is made
there). Target: the bundle within a minute (≤ 60 s) on each. Last line: `sar: <ratio>
bundle/floor, round by round (SQLite); <s> s for <n> records (target ≤ 60 s)`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

from bench.common import median_range, pairwise_ratios
from bench.digest import SCHEME, fresh_pg
from storage.db import Database
from storage.models import AuditEvent, Base, Engagement, Feedback, Media, Outbox, Person, Role
from storage.operations.people import sync_scheme
from storage.subject_access import person_bundle, write_bundle

# None is part of another, so a search for one name finds only that person's text.
NAMES = ["Ann Shaw", "Raj Patel", "Megan Pryce", "Tom Fairbairn", "Grace Okafor", "Liam Doyle",
         "Priya Nair", "Owen Hughes", "Sara Lindqvist", "Kwame Mensah", "Hannah Cole",
         "Ivan Petrov", "Julia Brandt", "Dylan Reeves"]
END = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)     # a Monday; the history runs up to it
SIZES = {"default": (260, 5, 5), "quick": (104, 5, 3), "smoke": (4, 1, 1)}  # weeks, a week, rounds
PHOTO_EVERY = 5
PHOTO_BYTES, THUMB_BYTES = 300_000, 20_000
FLOOR_TABLES = [t.__table__ for t in (Engagement, Feedback, Media, Outbox, AuditEvent)]
TARGET_SECONDS = 60.0
CHUNK = 5_000


# ---- data ----------------------------------------------------------------------------------


@dataclass
class History:
    """Every row to insert, by table, and what her bundle must hold."""

    rows: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


async def _people(db: Database) -> list[Person]:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with db.transaction() as session:
        await sync_scheme(session, SCHEME)
        ambassadors = []
        for index, (name, area) in enumerate(zip(NAMES, SCHEME.areas, strict=True)):
            area_id = await session.scalar(text("SELECT id FROM areas WHERE name = :n"),
                                           {"n": area})
            person = Person(name=name, roles=[Role.AMBASSADOR.value], area_id=area_id,
                            telegram_id=20_000 + index, monthly_hours=40)
            session.add(person)
            await session.flush()
            ambassadors.append(person)
        return ambassadors


def _history(ambassadors: list[Person], weeks: int, weekly: int, media: Path,
             her: Person) -> History:
    rng = random.Random(17)
    engagements: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    photos: list[dict[str, Any]] = []
    channel = SCHEME.channels.engagements
    first = END - dt.timedelta(weeks=weeks)
    for week in range(weeks):
        for slot in range(weekly):
            for person in ambassadors:
                number = len(engagements) + 1
                starts = first + dt.timedelta(weeks=week, days=slot, hours=18)
                ends, told = starts + dt.timedelta(hours=2), starts - dt.timedelta(days=7)
                filed = ends + dt.timedelta(hours=rng.randrange(1, 48))
                title = f"Residents' meeting {number}"
                engagements.append({
                    "id": number, "ambassador_id": person.id, "area_id": person.area_id,
                    "title": title, "kind": "Community event", "place": "Village hall",
                    "starts_at": starts, "ends_at": ends, "expected_audience": 20,
                    "status": "held", "notice_given_at": told, "created_at": told,
                    "updated_at": filed})
                feedback.append({
                    "id": number, "engagement_id": number, "ambassador_id": person.id,
                    "attendees": rng.randrange(5, 60),
                    "summary": "Talked with residents about parking and speeding on the lane.",
                    "outcomes": "The parish council will ask for a speed check.",
                    "follow_up_needed": "none", "urgency": "routine", "submitted_at": filed})
                for event, transport, to, words, data, at in (
                        ("engagement_prenotified", "slack", channel,
                         f"Coming up: {title} at Village hall. Notified by {person.name}.",
                         {"engagement_id": number, "ambassador": person.name}, told),
                        ("feedback_nudge", "telegram", str(person.telegram_id),
                         f"How did {title} go? Send /feedback when you can.",
                         {"engagement_id": number}, ends + dt.timedelta(hours=1)),
                        ("feedback_filed", "slack", channel,
                         f"Feedback from {person.name}: {title}, {feedback[-1]['attendees']} "
                         f"people.", {"feedback_id": number, "engagement_id": number}, filed)):
                    outbox.append({
                        "id": len(outbox) + 1, "transport": transport, "destination": to,
                        "event": event, "payload": {"text": words, **data}, "status": "sent",
                        "attempts": 1, "next_attempt_at": at, "external_id": f"m{len(outbox)}",
                        "created_at": at, "sent_at": at})
                for action, target, at in (("prenotify_engagement", "engagements", told),
                                           ("file_feedback", "feedback", filed)):
                    audits.append({
                        "id": len(audits) + 1, "at": at, "actor_id": person.id,
                        "actor_label": person.name, "action": action, "target_type": target,
                        "target_id": number, "outcome": "done", "after": {"status": "held"}})
                if (number - 1) % (PHOTO_EVERY * len(ambassadors)) < len(ambassadors):
                    photos.append(_photo(len(photos) + 1, number, person, filed, media,
                                         rng if person.id == her.id else None))
    mine = sum(1 for e in engagements if e["ambassador_id"] == her.id)
    history = History(rows={Engagement.__table__: engagements, Feedback.__table__: feedback,
                            Media.__table__: photos, Outbox.__table__: outbox,
                            AuditEvent.__table__: audits})
    history.expected = {"people": 1, "engagements": mine, "feedback": mine,
                        "media": sum(1 for p in photos if p["ambassador_id"] == her.id),
                        "outbox": 3 * mine, "audit_events": 2 * mine}
    return history


def _photo(number: int, engagement: int, person: Person, at: dt.datetime, media: Path,
           rng: random.Random | None) -> dict[str, Any]:
    """A photo row; its files are written only when `rng` is given (hers)."""
    digest = hashlib.sha256(f"photo {number}".encode()).hexdigest()
    paths = {}
    for word, size in (("photos", PHOTO_BYTES), ("thumbs", THUMB_BYTES)):
        path = media / word / f"{digest}.jpg"
        if rng is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rng.randbytes(size))
        paths[word] = str(path)
    return {"id": number, "engagement_id": engagement, "ambassador_id": person.id,
            "kind": "photo", "content_hash": digest, "safe_path": paths["photos"],
            "thumb_path": paths["thumbs"], "width": 1600, "height": 1200,
            "size_bytes": PHOTO_BYTES, "caption": "At the hall", "consent_given": True,
            "review_status": "approved", "reviewed_at": at, "created_at": at}


async def load(url: str, dialect: str, weeks: int, weekly: int, media: Path
               ) -> tuple[Database, Person, History]:
    db = Database(url)
    began = time.perf_counter()
    ambassadors = await _people(db)
    her = ambassadors[0]
    history = _history(ambassadors, weeks, weekly, media, her)
    async with db.engine.begin() as conn:
        for table, rows in history.rows.items():
            for start in range(0, len(rows), CHUNK):
                await conn.execute(insert(table), rows[start:start + CHUNK])
    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    print(f"  {dialect}: {history.total:,} rows loaded ({len(ambassadors)} ambassadors, "
          f"{weekly} engagements a week for {weeks} weeks) in "
          f"{time.perf_counter() - began:.0f} s", flush=True)
    return db, her, history


# ---- measuring -----------------------------------------------------------------------------


async def _bundle(db: Database, her: Person, expected: dict[str, int], out: Path) -> int:
    async with db.transaction() as session:
        bundle = await person_bundle(session, her.id)
    write_bundle(bundle, out, SCHEME)
    got = {name: len(rows) for name, rows in bundle.tables.items()}
    if got != expected or len(bundle.files) != 2 * expected["media"]:
        raise SystemExit(f"the bundle holds {got} and {len(bundle.files)} files; "
                         f"expected {expected} and {2 * expected['media']}")
    return bundle.total


async def _floor(db: Database) -> int:
    async with db.transaction() as session:
        return sum([len((await session.execute(select(t))).all()) for t in FLOOR_TABLES])


@dataclass
class Measured:
    dialect: str
    records: int
    rows: int
    bundle: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)


async def _measure(dialect: str, url: str, weeks: int, weekly: int, rounds: int,
                   tmp: Path) -> Measured:
    db, her, history = await load(url, dialect, weeks, weekly, tmp / f"media-{dialect}")
    try:
        out = tmp / f"sar-{dialect}.zip"
        records = await _bundle(db, her, history.expected, out)      # warm caches
        rows = await _floor(db)
        measured = Measured(dialect, records, rows)
        for number in range(rounds):
            order = ["bundle", "floor"] if number % 2 == 0 else ["floor", "bundle"]
            for variant in order:
                began = time.perf_counter()
                if variant == "bundle":
                    await _bundle(db, her, history.expected, out)
                else:
                    await _floor(db)
                getattr(measured, variant).append(time.perf_counter() - began)
        return measured
    finally:
        await db.dispose()


async def _main(weeks: int, weekly: int, rounds: int) -> list[Measured]:
    pg = os.environ.get("DATABASE_URL_PG")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-sar-") as tmp:
        path = Path(tmp) / "sar.db"
        results.append(await _measure("sqlite", f"sqlite+aiosqlite:///{path}", weeks, weekly,
                                      rounds, Path(tmp)))
        if pg:
            url = await fresh_pg(pg, "bench_sar")
            results.append(await _measure("postgresql", url, weeks, weekly, rounds, Path(tmp)))
    return results


def main(argv: list[str]) -> None:
    mode = "smoke" if "--smoke" in argv else "quick" if "--quick" in argv else "default"
    weeks, weekly, rounds = SIZES[mode]
    print(f"sar benchmark ({mode}): one ambassador's subject-access bundle among {len(NAMES)} "
          f"with {weekly} engagements a week for {weeks} weeks each, {rounds} interleaved "
          f"rounds; python {sys.version.split()[0]}; PostgreSQL "
          f"{'on' if os.environ.get('DATABASE_URL_PG') else 'off (set DATABASE_URL_PG)'}",
          flush=True)
    results = asyncio.run(_main(weeks, weekly, rounds))
    print("| database | her records (rows looked through) | floor, s median (min–max) "
          "| bundle, s median (min–max) | bundle/floor (per round) |")
    print("| --- | --- | --- | --- | --- |")
    for m in results:
        print(f"| {m.dialect} | {m.records:,} ({m.rows:,}) | {median_range(m.floor)} | "
              f"{median_range(m.bundle)} | {median_range(pairwise_ratios(m.bundle, m.floor))} |")
    sqlite = results[0]
    ratio = statistics.median(pairwise_ratios(sqlite.bundle, sqlite.floor))
    print(f"sar: {ratio:.2f} bundle/floor, round by round (SQLite); "
          f"{statistics.median(sqlite.bundle):.2f} s for {sqlite.records:,} records "
          f"(target ≤ {TARGET_SECONDS:g} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
