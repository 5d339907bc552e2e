"""The confirming poller (`python -m bot run` in polling mode) with the real python-telegram-bot
Application against the emulator: each update handled once and in order per chat, even over a
slow link where an update finishes while a poll that returns it again is on the wire; an update
still in flight at a stop is not confirmed, so the next run handles it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.emulators.telegram import TelegramEmulator
from handlers.telegram.ordering import ChatOrderedProcessor
from handlers.telegram.polling import ConfirmingPoller

TOKEN = "123456789:AAPollerTokenForTestsOnly_0123456789ab"


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(token=TOKEN) as emulator:
        yield emulator


def build(emu: TelegramEmulator, handled: list[tuple[int, str]],
          hold: dict[str, asyncio.Event] | None = None) -> Application:  # type: ignore[type-arg]
    """A bot that notes each text it handles and answers it; a text in `hold` waits for its
    event first."""
    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        if hold and message.text in hold:
            await hold[message.text].wait()
        handled.append((message.chat_id, message.text))
        await message.reply_text(f"got {message.text}")

    application = (Application.builder().token(TOKEN).base_url(emu.base_url)
                   .base_file_url(emu.base_file_url)
                   .concurrent_updates(ChatOrderedProcessor(4)).updater(None).build())
    application.add_handler(MessageHandler(filters.TEXT, answer))
    return application


async def running(application: Any) -> ConfirmingPoller:
    await application.initialize()
    await application.start()
    poller = ConfirmingPoller(application, timeout=1)
    await poller.start()
    return poller


async def finish(application: Any, poller: ConfirmingPoller, grace: float = 5.0) -> bool:
    finished = await poller.stop(grace=grace)
    await application.stop()
    await application.shutdown()
    return finished


async def test_slow_link_each_update_once_and_in_order_per_chat(emu: TelegramEmulator) -> None:
    emu.latency = 0.05   # every Bot API call, getUpdates included, takes 50 ms
    users = [emu.user(2000 + index, f"Ambassador {index}") for index in range(6)]
    sent = {user.id: [f"answer {number} from {user.id}" for number in range(8)]
            for user in users}
    for number in range(8):   # interleaved, as a busy evening arrives
        for user in users:
            await user.send_text(sent[user.id][number])
    handled: list[tuple[int, str]] = []
    application = build(emu, handled)
    poller = await running(application)
    try:
        await emu.wait_for(lambda: len(handled) >= 48 and all(
            len(user.bot_messages()) >= 8 for user in users), 30)
        await asyncio.sleep(0.3)   # a few more polls: nothing may be handled again
    finally:
        assert await finish(application, poller)
    assert len(handled) == 48, "an update was handled twice"
    for user in users:
        assert [text for chat, text in handled if chat == user.id] == sent[user.id]
        assert [m.text for m in user.bot_messages()] == [f"got {t}" for t in sent[user.id]]
    assert emu.pending_update_count == 0   # all confirmed


async def test_an_update_in_flight_at_a_stop_is_handled_by_the_next_run(
        emu: TelegramEmulator) -> None:
    ann, bob = emu.user(3001, "Ann"), emu.user(3002, "Bob")
    handled: list[tuple[int, str]] = []
    stuck = asyncio.Event()   # never set: Ann's answer is still being handled at the stop
    application = build(emu, handled, hold={"my answer": stuck})
    poller = await running(application)
    await ann.send_text("my answer")
    await bob.send_text("hello")
    await emu.wait_for(lambda: (3002, "hello") in handled, 10)
    assert not await finish(application, poller, grace=0.2)
    assert (3001, "my answer") not in handled
    assert emu.pending_update_count == 2   # Bob's is not confirmed past Ann's, either

    again: list[tuple[int, str]] = []
    application = build(emu, again)
    poller = await running(application)
    try:
        await emu.wait_for(lambda: len(ann.bot_messages()) == 1, 10)
    finally:
        assert await finish(application, poller)
    assert (3001, "my answer") in again
    assert [m.text for m in ann.bot_messages()] == ["got my answer"]
    assert emu.pending_update_count == 0
