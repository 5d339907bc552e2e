"""`python -m bench telegram-rtt [--quick] [--ptb-updater]`: the real bot over a slow link,
concurrent vs one at a time.

The `telegram` benchmark's form step (bench/telegram.py: 100 seeded ambassadors each typing
answers to a free-text question; validated, saved as the draft with the update recorded, next
question sent), with the emulator holding every Bot API call for a 50 ms round trip
(``emu.latency = 0.05``: 25 ms on the way in, 25 ms on the way out), as a bot far from
Telegram's servers sees it. In one run, interleaved round by round:

* concurrent: the bot as built for production (``build_application``: updates of one chat in
  order, different chats concurrently, 16 at a time; handlers/telegram/ordering.py);
* sequential: the same bot built with ``concurrency=1``, one update at a time.

Updates are fetched by the bot's `ConfirmingPoller`, as `python -m bot run` fetches them;
with ``--ptb-updater`` by PTB's own `Updater` instead (which confirms each batch as soon as it
is queued, so it never waits for a slow update before fetching past it).

A burst of N updates from 100 users is injected at once. After every run each user's draft
must hold their answers in the order they sent them, and their chat must show one question per
answer in order (BenchDb.check): concurrency may never reorder one person's answers. The ratio
of updates/s is taken pair by pair within a round. SQLite always; PostgreSQL too when
DATABASE_URL_PG is set. The last line is
``telegram-rtt: <ratio> concurrent/sequential updates per second`` (SQLite).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.telegram import (BenchDb, bench_form, fresh_emulator, open_databases, print_table,
                            ratio_line, run_form_bot)
from storage.scheme import load_scheme

LATENCY = 0.05  # seconds per Bot API round trip
CONCURRENCY = 16


@dataclass(frozen=True)
class Sizes:
    rounds: int
    n_updates: int
    n_users: int


SIZES = {
    # One sequential run of 1,000 updates takes about a minute (50 ms a step, at best).
    "default": Sizes(rounds=3, n_updates=1000, n_users=100),
    "quick": Sizes(rounds=2, n_updates=200, n_users=100),
    "smoke": Sizes(rounds=1, n_updates=24, n_users=8),
}


async def measure(sizes: Sizes, *, ptb_updater: bool = False) -> float:
    scheme = load_scheme()
    form = bench_form(-(-sizes.n_updates // sizes.n_users) + 1)
    databases: list[BenchDb] = await open_databases(scheme, sizes.n_users)
    variants = [(f"{label}, {database.label}", database, concurrency)
                for database in databases
                for label, concurrency in (("concurrent (16)", CONCURRENCY),
                                           ("sequential (1)", 1))]
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in variants}
    headline = float("nan")
    started = time.perf_counter()
    try:
        for number in range(sizes.rounds):
            for name, database, concurrency in variants:
                emu = await fresh_emulator(LATENCY)
                try:
                    results[name].append(await run_form_bot(
                        emu, database, scheme, form, sizes.n_updates, sizes.n_users,
                        concurrency=concurrency, ptb_updater=ptb_updater))
                finally:
                    await emu.stop()
            print(f"  round {number + 1}/{sizes.rounds} done "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    finally:
        for database in databases:
            await database.close()
    print_table(f"## burst with a {LATENCY * 1000:.0f} ms API round trip: {sizes.n_updates} "
                f"updates from {sizes.n_users} users, {sizes.rounds} round(s), "
                "median (min–max); per-chat order checked after every run", results)
    print("concurrent / sequential, pair by pair within a round, median (min–max):")
    for database in databases:
        concurrent = results[f"concurrent (16), {database.label}"]
        sequential = results[f"sequential (1), {database.label}"]
        ratio = ratio_line(f"{database.label} updates/s (target >= 12)",
                           [r["updates_per_s"] for r in concurrent],
                           [r["updates_per_s"] for r in sequential])
        ratio_line(f"{database.label} p50 latency", [r["p50_ms"] for r in concurrent],
                   [r["p50_ms"] for r in sequential])
        if database.label == "sqlite":
            headline = ratio
    return headline


def sizes_for(argv: Sequence[str]) -> Sizes:
    if "--smoke" in argv:
        return SIZES["smoke"]
    return SIZES["quick"] if "--quick" in argv else SIZES["default"]


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sizes = sizes_for(argv)
    ptb_updater = "--ptb-updater" in argv
    print(f"telegram-rtt benchmark: {sizes}; API round trip {LATENCY * 1000:.0f} ms; updates "
          f"fetched by {'PTB Updater' if ptb_updater else 'ConfirmingPoller'}; python "
          f"{sys.version.split()[0]}; {os.cpu_count()} cores; PostgreSQL "
          f"{'on' if os.environ.get('DATABASE_URL_PG') else 'off (DATABASE_URL_PG not set)'}")
    ratio = asyncio.run(measure(sizes, ptb_updater=ptb_updater))
    print(f"telegram-rtt: {ratio:.1f} concurrent/sequential updates per second")


if __name__ == "__main__":
    main(sys.argv[1:])


