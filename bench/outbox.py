"""`python -m bench outbox [--quick]`: the outbox dispatcher against a bare Slack client.

Both variants deliver the same MESSAGES Slack messages to the Slack emulator on loopback,
spread over DESTINATIONS conversations (five channels and DMs to the rest), keeping each
conversation's order and sending to up to CONCURRENCY conversations at once:

- floor: slack_sdk's `AsyncWebClient.chat_postMessage`, one task per conversation posting its
  messages in turn, bounded by a semaphore — what the messages cost with nothing in between;
- dispatcher: the same messages as outbox rows in an SQLite file (written before the clock
  starts, as the operations that cause them would have), delivered by `Dispatcher.drain()`:
  claim the head of each conversation, render, send through the same kind of client, record
  the outcome — two short transactions per round of up to one message per conversation.

Rounds alternate which variant goes first; each round uses fresh conversations. The ratio is
floor time / dispatcher time (= dispatcher throughput / floor throughput), pair by pair.
PostgreSQL runs too when DATABASE_URL_PG is set. Target ≥ 0.5.
Last line: `outbox: <ratio> dispatcher/bare slack_sdk messages per second (SQLite)`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text

from bench.common import median_range, pairwise_ratios
from bot.emulators.slack import SlackEmulator
from scheduler.dispatcher import Dispatcher, SlackSender
from storage.db import Database
from storage.models import Base, Outbox
from storage.scheme import load_scheme

TOKEN = "xoxb-bench-outbox"
DESTINATIONS = 50
CONCURRENCY = 16
SIZES = {"default": (2000, 7), "quick": (500, 3)}
TARGET = 0.5


def _workload(emulator: SlackEmulator, round_number: int, messages: int,
              variant: str) -> list[tuple[str, str]]:
    """(destination, text) pairs in the order they were queued."""
    destinations = []
    for index in range(DESTINATIONS):
        if index < 5:
            destinations.append(emulator.add_channel(f"#r{round_number}-{variant}-{index}").id)
        else:
            user = emulator.add_user(f"U{variant[0].upper()}{round_number:03d}{index:04d}",
                                     f"person{index}")
            destinations.append(user.id)
    return [(destinations[i % DESTINATIONS], f"Message {i} of round {round_number}: "
             "Much Wenlock parish council, 30 people, follow-up: none.")
            for i in range(messages)]


async def _floor(client: AsyncWebClient, work: list[tuple[str, str]]) -> float:
    by_destination: dict[str, list[str]] = {}
    for destination, message in work:
        by_destination.setdefault(destination, []).append(message)
    limit = asyncio.Semaphore(CONCURRENCY)

    async def conversation(destination: str, texts: list[str]) -> None:
        for message in texts:
            async with limit:
                await client.chat_postMessage(channel=destination, text=message)

    began = time.perf_counter()
    await asyncio.gather(*(conversation(d, t) for d, t in by_destination.items()))
    return time.perf_counter() - began


async def _dispatcher(db: Database, dispatcher: Dispatcher,
                      work: list[tuple[str, str]]) -> float:
    async with db.transaction() as session:
        session.add_all([Outbox(transport="slack", destination=d, event="bench",
                                payload={"text": t}) for d, t in work])
    began = time.perf_counter()
    stats = await dispatcher.drain(timeout=600)
    elapsed = time.perf_counter() - began
    if stats.sent != len(work):
        raise SystemExit(f"dispatcher delivered {stats.sent} of {len(work)}")
    return elapsed


def _check(emulator: SlackEmulator, work: list[tuple[str, str]]) -> None:
    """Everything arrived once, in order per conversation."""
    expected: dict[str, list[str]] = {}
    for destination, message in work:
        expected.setdefault(destination, []).append(message)
    for destination, texts in expected.items():
        got = [m.text for m in emulator.messages(destination)]
        if got != texts:
            raise SystemExit(f"{destination}: delivered out of order or not once")


async def _run(url: str, label: str, messages: int, rounds: int) -> list[float]:
    scheme = load_scheme()
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    floors: list[float] = []
    ours: list[float] = []
    async with SlackEmulator(bot_token=TOKEN, signing_secret="bench") as emulator:
        client = AsyncWebClient(token=TOKEN, base_url=emulator.api_base_url, retry_handlers=[])
        dispatcher = Dispatcher(db, scheme, {"slack": SlackSender(client)},
                                registry=CollectorRegistry(), concurrency=CONCURRENCY)
        await _floor(client, _workload(emulator, 0, 50, "warm"))
        for number in range(1, rounds + 1):
            order = ["floor", "dispatcher"] if number % 2 else ["dispatcher", "floor"]
            for variant in order:
                work = _workload(emulator, number, messages, variant)
                if variant == "floor":
                    floors.append(await _floor(client, work))
                else:
                    ours.append(await _dispatcher(db, dispatcher, work))
                _check(emulator, work)
            async with db.transaction() as session:   # keep each round's outbox the same size
                await session.execute(text("DELETE FROM outbox"))
        await client.session.close() if client.session else None
    await db.dispose()
    ratios = pairwise_ratios(floors, ours)
    print(f"  {label}: floor {median_range([messages / t for t in floors])} msg/s, dispatcher "
          f"{median_range([messages / t for t in ours])} msg/s; dispatcher/floor "
          f"{median_range(ratios)}", flush=True)
    return ratios


def main(argv: list[str]) -> None:
    mode = "quick" if "--quick" in argv else "default"
    messages, rounds = SIZES[mode]
    pg = os.environ.get("DATABASE_URL_PG")
    print(f"outbox benchmark ({mode}): {messages:,} Slack messages to {DESTINATIONS} "
          f"conversations, {CONCURRENCY} at a time, {rounds} interleaved rounds; python "
          f"{sys.version.split()[0]}; PostgreSQL {'on' if pg else 'off (set DATABASE_URL_PG)'}")
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        ratios = asyncio.run(_run(f"sqlite+aiosqlite:///{Path(tmp) / 'outbox.db'}", "sqlite",
                                  messages, rounds))
    if pg:
        asyncio.run(_run(pg, "postgresql", messages, rounds))
    print(f"outbox: {statistics.median(ratios):.2f} dispatcher/bare slack_sdk messages per "
          f"second (SQLite; target ≥ {TARGET:g})")


if __name__ == "__main__":
    main(sys.argv[1:])
