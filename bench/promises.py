"""`python -m bench promises [--quick] [--examples N] [--slack-examples N] [--telegram-examples N]
[--part engine,slack,telegram,duplicates] [--telegram-fields form.field,…]`: the figures of
issue 9's Promises table that are counts, not speeds.

* **Hostile input**: hypothesis draws N texts (default 10,000; `--quick` 30) — Unicode edge
  cases, markup, SQL, 4,000–5,000 characters, near-miss numbers and dates — and plays every
  one into every field of every form (tests/promises/hostile.py): through the form engine
  (typed, as a tapped choice index, and as a sticker), through Slack (every text input of every
  ambassador modal, one signed submission per example; `--slack-examples`, default 2,000),
  and through Telegram (typed as the answer to the field's question over the Bot API
  emulator; `--telegram-examples`, default 300). Counted: stack traces or apologies shown, silent drops, refusals that are not a
  sentence, Telegram messages sent with a parse_mode, secrets or typed text in the DEBUG logs.
* **Duplicates**: 33 ambassadors' mixed flows (commands, menu buttons, typed answers, photos,
  stale buttons; a stranger and a deactivated person knocking) — 1,000 updates — re-delivered
  byte for byte (tests/promises/duplicates.py); doubled rows, doubled messages, lost records.
  On SQLite, and on PostgreSQL when DATABASE_URL_PG is set.

No timings are compared here (the load bench does speed). The last line is
``promises: <stack traces + silent + not sentences + duplicates + lost + leaks> failures ...``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from storage.db import Database
from storage.models import Base
from storage.scheme import load_scheme

# (examples per field: engine; Slack; Telegram), ambassadors in the duplicates run. Through
# the transports every example is a round trip (Slack about 45, Telegram about 65 a second on
# two busy cores), so their default is a sample; `--slack-examples 10000
# --telegram-examples 10000` runs the full count (about 25 min and 2 h here).
SIZES = {"quick": (30, 30, 10, 10), "default": (10_000, 2_000, 300, 33)}


def _say(message: str) -> None:
    print(f"  … {message}", flush=True)


async def _fresh(url: str) -> Database:
    db = Database(url, pool_size=5, max_overflow=20) if url.startswith("postgresql") else \
        Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await conn.run_sync(Base.metadata.create_all)
    return db


async def _with_db(url: str, work: Callable[[Database], Awaitable[Any]]) -> Any:
    db = await _fresh(url)
    try:
        return await work(db)
    finally:
        await db.dispose()


async def _engine(db: Database, examples: list[str]) -> dict[str, int]:
    """Every example into every field through the engine, as each transport hands it over."""
    from handlers.forms import engine
    from handlers.forms.engine import Answer, FormContext
    from storage.operations import people
    from tests.promises.hostile import SORRY, TRACE, is_sentence
    from tests.storage.seed import NOW, Cast
    scheme = load_scheme()
    cast = await Cast.create(db, scheme)
    async with db.transaction() as s:
        ambassador = await people.get_person(s, cast.ambassador.id)
    ctx = FormContext(db=db, scheme=scheme, person=ambassador, now=NOW)
    counts = {"fields": 0, "answers": 0, "refusals": 0, "crashes": 0, "not_sentences": 0}
    for form in engine.all_forms():
        for f in form.fields:
            counts["fields"] += 1
            for number, typed in enumerate(examples):
                for answer in (Answer(text=typed), Answer(choice=number % 45 - 3),
                               Answer(other="sticker")):
                    state = engine.new_state(form)
                    state.step = f.name
                    counts["answers"] += 1
                    try:
                        refusal = await engine.take_answer(form, state, answer, ctx)
                    except Exception as error:  # noqa: BLE001 — what we are counting
                        counts["crashes"] += 1
                        _say(f"{form.name}.{f.name}: {type(error).__name__} on {typed[:40]!r}")
                        continue
                    if refusal is not None:
                        counts["refusals"] += 1
                        if SORRY in refusal or TRACE.search(refusal) or not is_sentence(refusal):
                            counts["not_sentences"] += 1
    return counts


def _summary(tally: Any) -> dict[str, int]:
    return {"fields": sum(1 for t in tally.fields.values() if t.examples),
            "answers": tally.total("examples"), "refusals": tally.total("refusals"),
            "stack_traces": tally.total("stack_traces"), "silent": tally.total("silent"),
            "not_sentences": tally.total("not_sentences"),
            "formatting": len(tally.formatting),
            "min_per_field": min((t.examples for t in tally.fields.values() if t.examples),
                                 default=0)}


async def _slack(db: Database, examples: list[str]) -> dict[str, int]:
    from tests.handlers.slack.harness import running_office
    from tests.promises import hostile
    scheme = load_scheme()
    with tempfile.TemporaryDirectory(prefix="bench-promises-") as tmp:
        async for office in running_office(db, scheme, chart_dir=Path(tmp)):
            tally = await hostile.slack_run(office, examples, progress=_say)
            for name, samples in tally.failures.items():
                _say(f"slack {name}: {samples}")
            return _summary(tally)
    return {}


async def _telegram(db: Database, examples: list[str]) -> dict[str, int]:
    from tests.promises import hostile
    from tests.storage.seed import Cast
    scheme = load_scheme()
    await Cast.create(db, scheme)
    tally = await hostile.telegram_run(db, scheme, examples, fields=_TELEGRAM_FIELDS or None,
                                       people=16, progress=_say)
    for name, samples in tally.failures.items():
        _say(f"telegram {name}: {samples}")
    return _summary(tally)


async def _duplicates(db: Database, ambassadors: int) -> Any:
    from tests.promises import duplicates
    with tempfile.TemporaryDirectory(prefix="bench-promises-") as tmp:
        return await duplicates.run(db, load_scheme(), Path(tmp) / "media",
                                    ambassadors=ambassadors, progress=_say)


def _option(argv: list[str], name: str, default: int) -> int:
    if name in argv:
        return int(argv[argv.index(name) + 1])
    return default


PARTS = ("engine", "slack", "telegram", "duplicates")
# `--telegram-fields hours.description,photos.caption`: only those questions (to look again at
# what a long run found); every question of every form by default.
_TELEGRAM_FIELDS: list[tuple[str, str]] = []


def main(argv: list[str]) -> None:
    from tests.promises import hostile
    from tests.promises.logs import debug_logs, leaks
    mode = "quick" if "--quick" in argv else "default"
    examples_n, slack_n, telegram_n, ambassadors = SIZES[mode]
    examples_n = _option(argv, "--examples", examples_n)
    slack_n = _option(argv, "--slack-examples", min(slack_n, examples_n))
    telegram_n = _option(argv, "--telegram-examples", min(telegram_n, examples_n))
    # `--part telegram` (or a comma list) runs only those parts: the long transport runs can
    # then go side by side, one process per core.
    parts = argv[argv.index("--part") + 1].split(",") if "--part" in argv else list(PARTS)
    if unknown := set(parts) - set(PARTS):
        raise SystemExit(f"--part: unknown {sorted(unknown)}; choose from {', '.join(PARTS)}")
    if "--telegram-fields" in argv:
        _TELEGRAM_FIELDS[:] = [tuple(name.split(".", 1))  # type: ignore[misc]
                               for name in argv[argv.index("--telegram-fields") + 1].split(",")]
    pg = os.environ.get("DATABASE_URL_PG")
    print(f"promises benchmark ({mode}; {', '.join(parts)}): {examples_n:,} hostile examples "
          f"per field (engine), {slack_n:,} (Slack), {telegram_n:,} (Telegram); duplicates: "
          f"{ambassadors} ambassadors x 30 + 10 updates, re-delivered; python "
          f"{sys.version.split()[0]}; PostgreSQL {'on' if pg else 'off (set DATABASE_URL_PG)'}",
          flush=True)
    started = time.perf_counter()
    wanted = [n for part, n in (("engine", examples_n), ("slack", slack_n),
                                ("telegram", telegram_n)) if part in parts]
    examples = hostile.draw(max(wanted)) if wanted else []
    # The fixed edge cases first, then hypothesis's draws up to N.
    played = (hostile.SPECIAL + examples)[:max(examples_n, len(hostile.SPECIAL))]
    slack_played = (hostile.SPECIAL + examples)[:max(slack_n, 1)]
    telegram_played = (hostile.SPECIAL + examples)[:max(telegram_n, 1)]
    failures = 0
    summary: list[str] = []
    stack_traces = silent = 0
    # Counts, not speed: the SQLite file lives in memory (/dev/shm) when it can, so that the
    # disk's fsync is not what limits how many examples fit in the run.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="bench-promises-", dir=shm) as tmp:
        sqlite = f"sqlite+aiosqlite:///{Path(tmp) / 'promises.db'}"
        dup_results: dict[str, Any] = {}
        with debug_logs() as logs:
            if "engine" in parts:
                mark = time.perf_counter()
                engine_counts = asyncio.run(_with_db(sqlite, lambda db: _engine(db, played)))
                print(f"  hostile, engine: {engine_counts} ({time.perf_counter() - mark:,.0f} s)",
                      flush=True)
                failures += engine_counts["crashes"] + engine_counts["not_sentences"]
                stack_traces += engine_counts["crashes"]
                summary.append(f"{examples_n:,}/field engine")
            for part, label, run, n in (
                    ("slack", "Slack modals", lambda db: _slack(db, slack_played), slack_n),
                    ("telegram", "Telegram", lambda db: _telegram(db, telegram_played),
                     telegram_n)):
                if part not in parts:
                    continue
                mark = time.perf_counter()
                counts = asyncio.run(_with_db(sqlite, run))
                print(f"  hostile, {label}: {counts} ({time.perf_counter() - mark:,.0f} s)",
                      flush=True)
                failures += counts["stack_traces"] + counts["silent"] + \
                    counts["not_sentences"] + counts["formatting"]
                stack_traces += counts["stack_traces"]
                silent += counts["silent"]
                summary.append(f"{counts['min_per_field']:,}/field {label.split()[0]}")
            if "duplicates" in parts:
                dup_results["SQLite"] = asyncio.run(_with_db(
                    sqlite, lambda db: _duplicates(db, ambassadors)))
                if pg:
                    dup_results["PostgreSQL"] = asyncio.run(_with_db(
                        pg, lambda db: _duplicates(db, ambassadors)))
            typed = (played if "engine" in parts else []) + \
                (slack_played if "slack" in parts else []) + \
                (telegram_played if "telegram" in parts else [])
            leaked = leaks(logs, list(dict.fromkeys(typed))[:4_000])
        for label, result in dup_results.items():
            print(f"  duplicates, {label}: {result.updates:,} updates re-delivered "
                  f"{result.redelivered:,} times; doubled rows {result.duplicate_rows or 0}, "
                  f"doubled messages {result.duplicate_messages}, lost {result.lost or 0}",
                  flush=True)
            failures += result.duplicates + len(result.lost)
        print(f"  logs at DEBUG: {len(logs.lines):,} lines, secrets or typed text: "
              f"{leaked or 0}", flush=True)
        failures += len(leaked)
    print(f"  took {time.perf_counter() - started:,.0f} s", flush=True)
    line = f"promises: {failures} failures"
    if summary:
        line += f"; hostile {', '.join(summary)}: {stack_traces} stack traces, {silent} silent"
    if "SQLite" in dup_results:
        sqlite_dup = dup_results["SQLite"]
        line += (f"; {sqlite_dup.updates:,} updates re-delivered: {sqlite_dup.duplicates} "
                 f"duplicates, {len(sqlite_dup.lost)} lost")
    print(f"{line}; {len(leaked)} secrets in logs")


if __name__ == "__main__":
    main(sys.argv[1:])
