"""The floor of the `telegram` benchmark: a bare python-telegram-bot echo bot (DESIGN §11).

`run_echo_floor` drives a default PTB ``Application`` that answers every text with the same
text, polling the Telegram emulator, and measures a burst of updates from many users. The
`telegram` benchmark runs it interleaved with the real bot on the same emulator and divides.
Run alone it gives the floor's own figures: ``python -m bench telegram-floor [--quick]``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Sequence

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bench.common import median_range
from bot.emulators.telegram import FakeUser, TelegramEmulator

logger = logging.getLogger(__name__)

FIRST_USER_ID = 700_000  # far from the ids tests and the real-bot benchmark use


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say the same text back."""
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text)


def build_echo_app(emu: TelegramEmulator, *, concurrent_updates: bool | int = False
                   ) -> Application:  # type: ignore[type-arg]
    """A default PTB Application pointed at the emulator, with only the echo handler."""
    app = (Application.builder().token(emu.token).base_url(emu.base_url)
           .base_file_url(emu.base_file_url).concurrent_updates(concurrent_updates).build())
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


async def run_echo_floor(emu: TelegramEmulator, n_updates: int, n_users: int, *,
                         concurrent_updates: bool | int = False, rate: float | None = None,
                         timeout: float = 300.0) -> dict[str, float]:
    """Push ``n_updates`` texts from ``n_users`` users through a bare echo bot.

    All at once (a burst), or ``rate`` updates per second when given (paced). Returns
    updates/s over the run, p50/p99 latency in ms from an update's injection to the answering
    sendMessage reaching the emulator, and CPU ms per update (the whole process, emulator
    included: it runs in the same event loop, as it does for the bot measured against this
    floor).
    """
    app = build_echo_app(emu, concurrent_updates=concurrent_updates)
    users = [emu.user(FIRST_USER_ID + index, f"Echo {index}") for index in range(n_users)]
    sends = [(users[index % n_users], f"echo {index}") for index in range(n_updates)]
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=10)
        try:
            return await drive(emu, sends, rate=rate, timeout=timeout)
        finally:
            await app.updater.stop()
            await app.stop()


async def drive(emu: TelegramEmulator, sends: Sequence[tuple[FakeUser, str]], *,
                rate: float | None = None, timeout: float = 300.0) -> dict[str, float]:
    """Inject each (user, text) and wait for every answer; the figures of one measurement.

    Without ``rate`` every update is injected before the bot gets to run (a burst); with it,
    one every 1/rate seconds. Any bot measured against the floor is driven by this same code.
    """
    n_updates = len(sends)
    emu.reset_timings()
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    for index, (user, text) in enumerate(sends):
        if rate:
            delay = wall_start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await user.send_text(text)
    await emu.wait_for(lambda: len(emu.reply_timings) >= n_updates, timeout)
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    latencies = sorted(timing.latency for timing in emu.reply_timings[:n_updates])
    return {
        "updates": float(n_updates),
        "seconds": wall,
        "updates_per_s": n_updates / wall,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "cpu_ms_per_update": cpu * 1000 / n_updates,
    }


def percentile(sorted_values: list[float], percent: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1,
                      round(percent / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


async def _measure(rounds: int, n_updates: int, n_users: int) -> list[dict[str, float]]:
    results = []
    async with TelegramEmulator() as emu:
        for _ in range(rounds):
            results.append(await run_echo_floor(emu, n_updates, n_users))
    return results


def main(argv: list[str]) -> None:
    """Measure the floor alone and print its figures."""
    quick = "--quick" in argv
    rounds, n_updates, n_users = (3, 1000, 100) if quick else (5, 5000, 100)
    results = asyncio.run(_measure(rounds, n_updates, n_users))
    for key in ("updates_per_s", "p50_ms", "p99_ms", "cpu_ms_per_update"):
        print(f"{key:>18}: {median_range([r[key] for r in results])}")
    best = sorted(r["updates_per_s"] for r in results)[len(results) // 2]
    print(f"telegram-floor: {best:.0f} echo updates per second "
          f"(the floor alone, {n_updates} updates from {n_users} users; no ratio)")


if __name__ == "__main__":
    main(sys.argv[1:])
