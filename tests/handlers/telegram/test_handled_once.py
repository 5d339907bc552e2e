"""Every kind of update Telegram delivers twice is answered once and changes the records once,
through both transports (the confirming poller and the webhook), with the real
python-telegram-bot Application and the Bot API emulator (handlers/telegram/once.py: the one
place that knows about repeats)."""

from __future__ import annotations

import io
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from PIL import Image
from sqlalchemy import func, select

from bot.emulators.telegram import FakeUser, TelegramEmulator
from bot.web import telegram_webhook
from handlers.telegram.app import build_application
from handlers.telegram.context import Services
from handlers.telegram.polling import ConfirmingPoller
from storage.models import AuditEvent, FormDraft, HoursEntry, ProcessedUpdate
from tests.handlers.telegram.harness import TOKEN, Clock, said
from tests.storage.seed import NOW, Cast

SECRET = "handled-once-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 90, 40)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(params=["polling", "webhook"])
async def ann(request, db, scheme) -> AsyncIterator[FakeUser]:
    cast = await Cast.create(db, scheme)
    async with TelegramEmulator(token=TOKEN) as emu:
        application = build_application(TOKEN, Services(db=db, scheme=scheme, clock=Clock(NOW)),
                                        api_base_url=emu.base_url,
                                        api_file_url=emu.base_file_url, set_commands=False)
        await application.initialize()
        await application.start()
        poller: ConfirmingPoller | None = None
        runner: web.AppRunner | None = None
        if request.param == "polling":
            poller = ConfirmingPoller(application, timeout=1, retry_interval=0.1)
            await poller.start()
        else:
            server = web.Application()
            server.router.add_post("/telegram/webhook", telegram_webhook(application, SECRET))
            runner = web.AppRunner(server)
            await runner.setup()
            port = _free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            await application.bot.set_webhook(f"http://127.0.0.1:{port}/telegram/webhook",
                                              secret_token=SECRET)
        try:
            yield emu.user(cast.ambassador.telegram_id, "Ann")
        finally:
            if poller is not None:
                await poller.stop(grace=5)
            if runner is not None:
                await runner.cleanup()
            await application.stop()
            await application.shutdown()


async def _at_hours_duration(ann: FakeUser) -> None:
    await ann.send_command("/hours")
    await said(ann, "Which day?")
    await ann.press("Today")
    await said(ann, "How long did you work?")


async def _nothing(ann: FakeUser) -> None:
    return None


async def _at_summary_of_a_day_too_long(ann: FakeUser) -> None:
    """20 hours logged today, and a form of 5 more at its summary: Submit will be refused."""
    for minutes, done in (("20", True), ("5", False)):
        await ann.send_command("/hours")
        await said(ann, "Which day?")
        await ann.press("Today")
        await said(ann, "How long did you work?")
        await ann.send_text(minutes)
        await said(ann, "What did you do?")
        await ann.press("Skip ▶")
        await said(ann, "please check")
        if done:
            await ann.press("✅ Submit")
            await said(ann, "Logged 20h")


Act = Callable[[FakeUser], Awaitable[Any]]
# (what is sent, after getting where, what the bot answers): effects and plain answers alike.
KINDS: dict[str, tuple[Callable[[FakeUser], Awaitable[None]], Act, str]] = {
    "command starting a form": (_nothing, lambda u: u.send_command("/hours"), "Which day?"),
    "command changing nothing": (_nothing, lambda u: u.send_command("/help"),
                                 "I help you keep"),
    "text answer": (_at_hours_duration, lambda u: u.send_text("2"), "What did you do?"),
    "text with no form": (_nothing, lambda u: u.send_text("hello"), "Send /menu"),
    "button": (_at_hours_duration, lambda u: u.press("◀ Back"), "Which day?"),
    "submit refused by a rule": (_at_summary_of_a_day_too_long,
                                 lambda u: u.press("✅ Submit"), "more than 24 hours"),
    "photo": (_at_hours_duration, lambda u: u.send_photo(_jpeg()), "How long did you work?"),
    "location": (_at_hours_duration, lambda u: u.send_location(52.6, -2.5),
                 "How long did you work?"),
}


async def _records(db) -> dict[str, Any]:
    async with db.transaction() as s:
        drafts = (await s.scalars(select(FormDraft).order_by(FormDraft.id))).all()
        return {
            "drafts": [(d.form, d.active, dict(d.state)) for d in drafts],
            "hours": await s.scalar(select(func.count()).select_from(HoursEntry)),
            "audit": await s.scalar(select(func.count()).select_from(AuditEvent)),
        }


@pytest.mark.parametrize("kind", list(KINDS))
async def test_an_update_delivered_again_is_answered_once(ann: FakeUser, db, kind: str) -> None:
    setup, act, answer = KINDS[kind]
    emu = ann.emulator
    await setup(ann)
    await act(ann)
    update_id = emu.last_update_id
    await said(ann, answer)
    await emu.wait_for(lambda: emu.pending_update_count == 0, 10)
    seen, pressed = len(ann.chat.bot_activity), len(emu.callback_answers)
    records = await _records(db)

    emu.redeliver(update_id)
    emu.redeliver(update_id)
    await emu.wait_for(lambda: emu.pending_update_count == 0, 10)
    # One chat's updates are handled in order: the answer to this proves the repeats were
    # handled before it.
    await ann.send_command("/help")
    await said(ann, "I help you keep")

    assert len(ann.chat.bot_activity) == seen + 1, [
        m.text for m in ann.chat.bot_activity[seen:]]
    assert len(emu.callback_answers) == pressed
    assert await _records(db) == records
    async with db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(ProcessedUpdate).where(
            ProcessedUpdate.key == f"tg:{update_id}")) == 1
