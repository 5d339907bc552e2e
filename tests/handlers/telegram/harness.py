"""Runs the real bot (python-telegram-bot Application) against the Bot API emulator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from telegram.ext import Application

from bot.emulators.telegram import ChatMessage, FakeUser, TelegramEmulator
from handlers.telegram.app import build_application
from handlers.telegram.context import Services
from storage.db import Database
from storage.scheme import Scheme

TOKEN = "123456789:AAEmulatorTokenForTestsOnly_0123456789"


class Clock:
    """A clock the test moves; the bot reads it for 'tomorrow 7pm' and drafts' expiry."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class RunningBot:
    def __init__(self, emu: TelegramEmulator, db: Database, scheme: Scheme, clock: Clock,
                 **services: object) -> None:
        self.emu, self.db, self.scheme, self.clock = emu, db, scheme, clock
        self.services = services
        self.app: Application | None = None

    async def start(self) -> RunningBot:
        self.app = build_application(TOKEN, Services(db=self.db, scheme=self.scheme,
                                                     clock=self.clock, **self.services),
                                     api_base_url=self.emu.base_url,
                                     api_file_url=self.emu.base_file_url)
        await self.app.initialize()
        await self.app.start()
        await self.app.updater.start_polling(poll_interval=0, timeout=1)
        return self

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.updater.stop()
            await self.app.stop()
            await self.app.shutdown()
            self.app = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


async def said(user: FakeUser, fragment: str, timeout: float = 10.0) -> ChatMessage:
    """Wait until the bot, since the user's last action, sends or edits a message containing
    `fragment`; returns that message as it stands now."""
    emu = user.emulator
    chat = user.chat
    start = user._cursors.get(chat.id, 0)

    def seen() -> ChatMessage | None:
        for message in reversed(chat.bot_activity[start:]):
            if fragment in (message.text or message.caption or ""):
                return message
        return None

    try:
        return await emu.wait_for(seen, timeout)
    except TimeoutError:
        last = user.last_bot_message
        raise AssertionError(f"the bot did not say {fragment!r}; its last message: "
                             f"{(last.text or last.caption) if last else None!r}") from None


def buttons(message: ChatMessage) -> list[str]:
    return [text for row in message.buttons for text, _ in row]


Predicate = Callable[[], bool]
