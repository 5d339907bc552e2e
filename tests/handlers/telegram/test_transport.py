"""Polling vs webhook, the webhook's secret, the command list — through `bot.runner`."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.emulators.telegram import TelegramEmulator
from bot.runner import run
from bot.settings import Settings
from storage.models import ProcessedUpdate
from tests.handlers.telegram.harness import TOKEN, said
from tests.storage.seed import Cast


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def emu():
    async with TelegramEmulator(token=TOKEN) as emulator:
        yield emulator


async def _serve(settings: Settings, scheme):
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, scheme, stop=stop))
    return stop, task


async def test_webhook_with_secret_and_commands(emu, db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    settings = Settings(_env_file=None, database_url=db.url,
                        telegram_bot_token=SecretStr(TOKEN),
                        telegram_api_base_url=emu.base_url, telegram_webhook_url=url,
                        telegram_webhook_secret=SecretStr("s3cret-value"),
                        http_host="127.0.0.1", http_port=port)
    stop, task = await _serve(settings, scheme)
    try:
        ann = emu.user(cast.ambassador.telegram_id, "Ann")
        await emu.wait_for(lambda: [c for c in emu.calls if c.method == "setWebhook"], 10)
        await ann.send_command("/help")
        await said(ann, "I help you keep the office up to date", timeout=10)
        await emu.wait_for(lambda: emu.commands, 10)
        assert [name for name, _ in emu.commands][:2] == ["menu", "prenotify"]
        forged = {"update_id": 999_999, "message": {
            "message_id": 1, "date": 0, "chat": {"id": cast.ambassador.telegram_id,
                                                  "type": "private"},
            "from": {"id": cast.ambassador.telegram_id, "is_bot": False, "first_name": "A"},
            "text": "/menu"}}
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=forged, headers=headers) as response:
                    assert response.status == 403
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200 and (await response.json())["ok"] is True
        await asyncio.sleep(0.2)
        async with db.transaction() as s:
            assert await s.scalar(select(ProcessedUpdate).where(
                ProcessedUpdate.key == "tg:999999")) is None
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
