"""One person flooding the bot is told to wait, loses nothing, and doesn't slow others."""

from __future__ import annotations

import time

import pytest

from bot.emulators.telegram import TelegramEmulator
from handlers.telegram.ordering import SLOW_DOWN
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, said
from tests.storage.seed import NOW, Cast


@pytest.fixture
async def running(db, scheme):
    cast = await Cast.create(db, scheme)
    async with TelegramEmulator(token=TOKEN) as emu:
        bot = await RunningBot(emu, db, scheme, Clock(NOW)).start()
        yield emu, cast
        await bot.stop()


async def test_flood_is_throttled_politely_and_others_are_not_slowed(running) -> None:
    emu, cast = running
    flooder = emu.user(cast.ambassador.telegram_id, "Ann")
    other = emu.user(cast.other_ambassador.telegram_id, "Bob")
    started = time.perf_counter()
    await other.send_command("/help")
    await said(other, "I help you keep")
    idle = time.perf_counter() - started
    for n in range(60):
        await flooder.send_text(f"message {n}")
    started = time.perf_counter()
    await other.send_command("/help")
    await said(other, "I help you keep")
    busy = time.perf_counter() - started
    await emu.wait_for(lambda: sum(m.text == "Send /menu to see what I can do."
                                   for m in flooder.bot_messages()) == 60, 30)
    texts = [m.text for m in flooder.bot_messages()]
    assert texts.count(SLOW_DOWN) == 1
    assert busy < max(10 * idle, 1.0)  # generous: the point is "not stuck behind 60 updates"
