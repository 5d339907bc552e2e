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


async def test_answers_an_earlier_run_handled_get_the_current_question_once(db, scheme) -> None:
    """A run that stopped after saving an answer but before its question went out (or before
    Telegram heard the update was handled) gets the update again: the new run sends the
    question the form is at, once however many of their updates come back, and changes
    nothing."""
    await Cast.create(db, scheme)
    async with db.transaction() as s:
        ambassador = await person(s, Role.AMBASSADOR, "Amb", "Shropshire")
    async with TelegramEmulator(token=TOKEN) as emu:
        user = emu.user(ambassador.telegram_id, ambassador.name)
        bot = await RunningBot(emu, db, scheme, Clock(NOW)).start()
        try:
            await user.send_command("/hours")
            await said(user, "Which day?")
            await user.press("Today")
            pressed = emu.last_update_id
            await said(user, "How long did you work?")
            await user.send_text("2")
            typed = emu.last_update_id
            await said(user, "What did you do?")
            # Redelivered within the run that handled them: nothing said again.
            emu.redeliver(typed)
            await emu.wait_for(lambda: emu.pending_update_count == 0, 10)
            await user.send_command("/help")
            await said(user, "I help you keep")
            before = [m.text for m in user.bot_messages()]

            await bot.restart()
            emu.redeliver(pressed)
            emu.redeliver(typed)
            await emu.wait_for(lambda: len(user.bot_messages()) > len(before), 10)
            await emu.wait_for(lambda: emu.pending_update_count == 0, 10)
            await user.send_command("/help")   # proves both redeliveries were consumed first
            await emu.wait_for(lambda: len(user.bot_messages()) >= len(before) + 2, 10)
            again = [m.text for m in user.bot_messages()][len(before):]
            assert len(again) == 2 and "What did you do?" in again[0]
            assert "I help you keep" in again[1]
            async with db.transaction() as s:
                assert await s.scalar(select(func.count()).select_from(HoursEntry)) == 0
                draft = await s.scalar(select(FormDraft))
            assert draft is not None and draft.state["step"] == "description"
        finally:
            await bot.stop()
