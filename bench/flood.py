"""`python -m bench flood [--quick | --smoke]`: does one person flooding the bot slow everyone else?

The real bot (built as `python -m bot run` builds it, on SQLite) polls the Telegram Bot API
emulator. Ten ambassadors each send /help once every 100 ms and time each answer (sent →
the bot's reply at the emulator). Rounds alternate, interleaved: idle (only the ten) and flood
(an eleventh ambassador sending 50 messages a second throughout). The figure is the ten's p99
during the flood over their p99 when idle, round by round (issue 9: within 2×). The flooder
must get every message handled, in order, and be told once per burst to slow down.

Last line: `flood: <ratio> others' p99 latency, flooding/idle (target ≤ 2)`.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import median_range, pairwise_ratios
from bot.emulators.telegram import FakeUser, TelegramEmulator
from handlers.telegram.app import build_application
from handlers.telegram.context import Services
from handlers.telegram.ordering import SLOW_DOWN
from storage.db import Database
from storage.models import Base, Person, Role
from storage.operations.people import area_named, sync_scheme
from storage.scheme import load_scheme

TOKEN = "123456789:AAFloodBenchTokenForTheEmulatorOnly_01"
OTHERS = 10


async def _answer_time(user: FakeUser) -> float:
    before = len(user.chat.bot_activity)
    started = time.perf_counter()
    await user.send_command("/help")
    await user.emulator.wait_for(lambda: len(user.chat.bot_activity) > before, 30)
    return time.perf_counter() - started


async def _other(user: FakeUser, seconds: float, times: list[float]) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        times.append(await _answer_time(user))
        await asyncio.sleep(0.1)


async def _flood(user: FakeUser, seconds: float, sent: list[str]) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        text = f"flood {len(sent)}"
        sent.append(text)
        await user.send_text(text)
        await asyncio.sleep(0.02)   # 50 a second


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else values[0]


async def run(rounds: int, seconds: float) -> list[tuple[float, float]]:
    scheme = load_scheme()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'flood.db'}")
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with db.transaction() as s:
            await sync_scheme(s, scheme)
            area = await area_named(s, "Shropshire")
            for n in range(OTHERS + 1):
                s.add(Person(name=f"Ambassador {n}", roles=[Role.AMBASSADOR.value],
                             area_id=area.id, telegram_id=5000 + n, active=True,
                             monthly_hours=40))
        results: list[tuple[float, float]] = []
        async with TelegramEmulator(token=TOKEN) as emu:
            application = build_application(TOKEN, Services(db=db, scheme=scheme),
                                             api_base_url=emu.base_url,
                                             api_file_url=emu.base_file_url)
            await application.initialize()
            await application.start()
            await application.updater.start_polling(poll_interval=0, timeout=1)
            try:
                others = [emu.user(5000 + n, f"Ambassador {n}") for n in range(OTHERS)]
                flooder = emu.user(5000 + OTHERS, "Flooder")
                for _ in others:   # warm up
                    await _answer_time(_)
                sent: list[str] = []   # everything the flooder sent, over all rounds
                for index in range(rounds):
                    pair = []
                    for flooding in (False, True) if index % 2 == 0 else (True, False):
                        times: list[float] = []
                        tasks = [_other(u, seconds, times) for u in others]
                        if flooding:
                            tasks.append(_flood(flooder, seconds, sent))
                        await asyncio.gather(*tasks)
                        if flooding:   # every message handled before the next round
                            await emu.wait_for(lambda: _replies(flooder) >= len(sent), 120)
                        pair.append((flooding, p99(times)))
                    idle = next(v for f, v in pair if not f)
                    busy = next(v for f, v in pair if f)
                    results.append((idle, busy))
                    print(f"  round {index + 1}/{rounds}: p99 idle {idle * 1000:.1f} ms, "
                          f"flooding {busy * 1000:.1f} ms", flush=True)
                warned = sum(SLOW_DOWN in (m.text or "") for m in flooder.chat.bot_activity)
                print(f"  the flooder was told to slow down {warned} time(s)")
            finally:
                await application.updater.stop()
                await application.stop()
                await application.shutdown()
        await db.dispose()
    return results


def _replies(user: FakeUser) -> int:
    return sum(SLOW_DOWN not in (m.text or "") for m in user.chat.bot_activity)


def main(argv: list[str]) -> None:
    rounds, seconds = ((2, 0.5) if "--smoke" in argv else (2, 2.0) if "--quick" in argv
                       else (6, 5.0))
    print(f"flood benchmark: {rounds} rounds of {seconds:g} s, {OTHERS} others sending /help "
          f"every 100 ms, one flooder at 50 messages/s; python {sys.version.split()[0]}")
    results = asyncio.run(run(rounds, seconds))
    idle = [i for i, _ in results]
    busy = [b for _, b in results]
    ratios = pairwise_ratios(busy, idle)
    print(f"others' p99 ms: idle {median_range([v * 1000 for v in idle])}, "
          f"flooding {median_range([v * 1000 for v in busy])}")
    print(f"flood: {statistics.median(ratios):.2f} others' p99 latency, flooding/idle "
          f"(target ≤ 2)")
