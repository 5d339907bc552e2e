"""The same Telegram update delivered twice is handled once: no second record, no second reply
(DESIGN §7 "Nothing lost" — and nothing doubled)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from bot.emulators.telegram import TelegramEmulator
from storage.models import FormDraft, HoursEntry, ProcessedUpdate
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, said
from tests.storage.seed import NOW, Cast, person
from storage.models import Role

USERS = int(os.environ.get("DUPLICATE_USERS", "20"))


@pytest.fixture
async def running(db, scheme):
    await Cast.create(db, scheme)
    async with db.transaction() as s:
        ambassadors = [await person(s, Role.AMBASSADOR, f"Amb {n}", "Shropshire")
                       for n in range(USERS)]
    async with TelegramEmulator(token=TOKEN) as emu:
        bot = await RunningBot(emu, db, scheme, Clock(NOW)).start()
        yield emu, [emu.user(a.telegram_id, a.name) for a in ambassadors]
        await bot.stop()


async def test_every_update_redelivered_changes_nothing_twice(running, db) -> None:
    emu, users = running
    first_update = (emu.last_update_id or 100_000) + 1
    for user in users:
        await user.send_command("/hours")
    for user in users:
        await said(user, "Which day?")
        await user.press("Today")
    for user in users:
        await said(user, "How long did you work?")
        await user.send_text("2")
    for user in users:
        await said(user, "What did you do?")
        await user.press("Skip ▶")
    for user in users:
        await said(user, "please check")
        await user.press("✅ Submit")
    for user in users:
        await said(user, "Logged 2h")
    replies_before = {u.id: len(u.bot_messages()) for u in users}
    last_update = emu.last_update_id
    for update_id in range(first_update, last_update + 1):
        emu.redeliver(update_id)
    await emu.wait_for(lambda: emu.pending_update_count == 0, 20)
    # A fresh command from everyone proves the redeliveries were consumed before it.
    for user in users:
        await user.send_command("/help")
    for user in users:
        await said(user, "I help you keep")
    assert {u.id: len(u.bot_messages()) - 1 for u in users} == replies_before
    async with db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(HoursEntry)) == len(users)
        assert await s.scalar(select(func.count()).select_from(FormDraft)) == 0
        recorded = await s.scalar(select(func.count()).select_from(ProcessedUpdate))
    assert recorded >= 4 * len(users)  # every state-changing update left its key
