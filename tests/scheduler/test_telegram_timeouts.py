"""A Telegram send that timed out: safe to send again only when the request never left.

Through the bot's own transport (aiohttp, handlers/telegram/transport.py) against the emulator:
a send held past the read timeout may have been delivered (unknown outcome); one that never got
a connection did not leave (a plain retry)."""

from __future__ import annotations

import asyncio

from telegram import Bot

from bot.emulators.telegram import TelegramEmulator
from handlers.telegram.transport import AiohttpRequest
from scheduler.dispatcher import Delivery, TelegramSender
from tests.handlers.telegram.harness import TOKEN


def delivery(n: int, chat: int) -> Delivery:
    return Delivery(id=n, transport="telegram", destination=str(chat), event="note",
                    payload={"text": f"note {n}"})


async def test_a_timed_out_answer_is_unknown_and_no_connection_is_a_plain_retry() -> None:
    async with TelegramEmulator(token=TOKEN) as emu:
        ann = emu.user(4242, "Ann")
        bot = Bot(TOKEN, base_url=emu.base_url,
                  request=AiohttpRequest(connection_pool_size=1, read_timeout=0.3,
                                         connect_timeout=0.2, pool_timeout=0.1))
        await bot.initialize()
        try:
            sender = TelegramSender(bot)
            emu.faults.hang("sendMessage", seconds=1.5)
            # note 1 waits up to 1 s for its answer, holding the only connection meanwhile
            held = asyncio.create_task(sender.deliver(delivery(1, ann.id),
                                                      {"text": "note 1", "read_timeout": 1.0}))
            await asyncio.sleep(0.05)      # the one connection is now busy with note 1
            queued = await sender.deliver(delivery(2, ann.id), {"text": "note 2"})
            first = await held
        finally:
            await bot.shutdown()
    assert (first.kind, queued.kind) == ("unknown", "transient"), (first, queued)
