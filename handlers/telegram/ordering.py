"""Updates of one chat strictly in order; different chats concurrently, bounded.

PTB's `concurrent_updates(True)` runs everything at once (and measured slower); sequential
processing makes one slow photo hold up every ambassador. This keeps a lock per chat inside
PTB's bounded semaphore.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


RECENT_UPDATES = 10_000  # update ids remembered to tell a redelivery from a flood
SLOW_DOWN = ("You're sending messages faster than I can answer. I'm working through them in "
             "order and nothing is lost — please wait for my replies.")


class ChatOrderedProcessor(BaseUpdateProcessor):
    """`flood_queue`: when this many updates of one chat are queued, the person is told once
    (per burst) to wait; everything they sent is still handled, in order. A flooding chat
    holds at most one concurrency slot, so everyone else carries on at their usual speed."""

    def __init__(self, max_concurrent_updates: int = 16, flood_queue: int = 20) -> None:
        super().__init__(max_concurrent_updates)
        # Set by the runner when several workers share PostgreSQL: a lock per chat across
        # processes, taken inside this process's lock for the chat (storage/locks.py).
        self.cross_process_lock: Callable[[int], AbstractAsyncContextManager[Any]] | None = None
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self._warned: set[int] = set()
        self.flood_queue = flood_queue
        # Update ids taken lately: Telegram delivering them again (a retried webhook, a backlog
        # after a restart) is not the person flooding, and must not earn them the warning.
        self._recent: dict[int, None] = {}
        self._fresh: dict[int, int] = {}

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # The chat's lock is taken before a concurrency slot, so a flood from one chat waits
        # in its own queue instead of filling every slot and starving everyone else.
        chat_id = _chat_id(update)
        if chat_id is None:
            await super().process_update(update, coroutine)
            return
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        self._waiting[chat_id] = self._waiting.get(chat_id, 0) + 1
        fresh = self._first_time(update)
        if fresh:
            self._fresh[chat_id] = self._fresh.get(chat_id, 0) + 1
        if fresh and self._fresh[chat_id] >= self.flood_queue and chat_id not in self._warned:
            self._warned.add(chat_id)
            asyncio.get_running_loop().create_task(self._slow_down(update, chat_id))
        try:
            async with lock:
                across = (self.cross_process_lock(chat_id) if self.cross_process_lock
                          else nullcontext())
                async with across:
                    await super().process_update(update, coroutine)
        finally:
            if fresh:
                self._fresh[chat_id] -= 1
                if not self._fresh[chat_id]:
                    del self._fresh[chat_id]
            self._waiting[chat_id] -= 1
            if not self._waiting[chat_id]:  # no one queued: forget the chat, keep memory flat
                del self._waiting[chat_id]
                self._locks.pop(chat_id, None)
                self._warned.discard(chat_id)

    def _first_time(self, update: object) -> bool:
        update_id = getattr(update, "update_id", None)
        if update_id is None:
            return True
        if update_id in self._recent:
            return False
        self._recent[update_id] = None
        if len(self._recent) > RECENT_UPDATES:
            del self._recent[next(iter(self._recent))]  # the oldest (dicts keep order)
        return True

    async def _slow_down(self, update: object, chat_id: int) -> None:
        try:
            await update.get_bot().send_message(chat_id, SLOW_DOWN)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 — a courtesy message; its failure changes nothing
            pass

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def _chat_id(update: object) -> int | None:
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return None
