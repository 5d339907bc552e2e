"""The database away in the middle of an update (issue 16 case 7), through both transports —
the confirming poller and the webhook — with the real python-telegram-bot Application and the
Bot API emulator, on SQLite and PostgreSQL.

The rule (handlers/telegram/app.py `handle_update`): an update whose handling failed on an
infrastructure fault is not confirmed (the poller tries it again; the webhook answers 500 and
Telegram delivers it again) and, once the database is back, is handled exactly once; an update
that failed on a bug is answered with a sentence and confirmed, so it blocks nobody.

The database "goes away" through SQLAlchemy's public `before_cursor_execute` event: from the
moment it is stopped, every statement that writes fails with the OperationalError a dropped
connection gives (the update's first read succeeds; it fails mid-update, at its write).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from bot.emulators.telegram import TelegramEmulator
from bot.web import telegram_webhook
from handlers.telegram.app import DELAYED, SORRY, build_application
from handlers.telegram.context import Services
from handlers.telegram.polling import ConfirmingPoller
from storage.models import FormDraft, ProcessedUpdate
from tests.crash.harness import until
from tests.handlers.telegram.harness import TOKEN, Clock, said
from tests.storage.seed import NOW, Cast

SECRET = "outage-test-secret"


class Outage:
    """Stops (and restarts) the database for the bot: writes fail while it is down."""

    def __init__(self, db: Any) -> None:
        self.engine = db.engine.sync_engine
        self.down = False
        self.bug = False
        self.failures = 0
        event.listen(self.engine, "before_cursor_execute", self._statement)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)

    def _statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        writes = statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        if self.bug and writes:
            self.bug = False
            self.failures += 1
            raise ValueError("a bug in the handling of this one update")
        if self.down and writes:
            self.failures += 1
            raise OperationalError(statement, parameters,
                                   ConnectionRefusedError("the database is away"))


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(token=TOKEN) as emulator:
        emulator.webhook_retry_max_delay = 0.3
        emulator.webhook_max_attempts = 1000
        yield emulator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=["polling", "webhook"])
async def running(request, emu, db, scheme) -> AsyncIterator[tuple[Any, Outage]]:
    cast = await Cast.create(db, scheme)
    application = build_application(TOKEN, Services(db=db, scheme=scheme, clock=Clock(NOW)),
                                     api_base_url=emu.base_url, api_file_url=emu.base_file_url,
                                     set_commands=False)
    await application.initialize()
    await application.start()
    outage = Outage(db)
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
        yield emu.user(cast.ambassador.telegram_id, "Ann"), outage
    finally:
        outage.close()
        if poller is not None:
            await poller.stop(grace=5)
        if runner is not None:
            await runner.cleanup()
        await application.stop()
        await application.shutdown()


async def _rows(db, model, *where) -> list[Any]:
    async with db.transaction() as s:
        return list((await s.scalars(select(model).where(*where))).all())


async def test_an_update_the_database_failed_is_handled_once_it_is_back(
        running, emu, db) -> None:
    ann, outage = running
    outage.down = True
    await ann.send_command("/hours")
    update_id = emu.last_update_id
    told = await said(ann, "can't reach my records")
    assert told.text == DELAYED
    await until(lambda: outage.failures >= 3, 10, "the update tried again while down")
    assert emu.pending_update_count == 1          # not confirmed, not dropped
    assert await _rows(db, FormDraft) == []
    outage.down = False                           # the database is back
    await said(ann, "Which day?", timeout=10)
    await until(lambda: emu.pending_update_count == 0, 10, "the update confirmed")
    texts = [m.text for m in ann.bot_messages()]
    assert texts.count(DELAYED) == 1              # told once, however often it was tried
    assert sum("Which day?" in (t or "") for t in texts) == 1   # handled exactly once
    assert [d.form for d in await _rows(db, FormDraft)] == ["hours"]
    assert len(await _rows(db, ProcessedUpdate,
                           ProcessedUpdate.key == f"tg:{update_id}")) == 1


async def test_an_update_that_hit_a_bug_is_answered_and_confirmed(running, emu, db) -> None:
    ann, outage = running
    outage.bug = True
    await ann.send_command("/hours")
    told = await said(ann, "something went wrong")
    assert told.text == SORRY
    await until(lambda: emu.pending_update_count == 0, 10, "the poisoned update confirmed")
    await ann.send_command("/hours")              # the queue is not blocked behind it
    await said(ann, "Which day?")
    assert [m.text for m in ann.bot_messages()].count(SORRY) == 1
