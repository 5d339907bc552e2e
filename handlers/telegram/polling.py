"""getUpdates long polling that confirms an update to Telegram only after it was handled.

python-telegram-bot's Updater asks for the next batch (which confirms the last one, Telegram
then forgets it) as soon as it has queued the previous batch, before any of it is handled: a
process killed while handling an update loses it, and the ambassador's answer with it. Here the
offset sent to Telegram never passes an update still being handled, so after a crash Telegram
hands it out again (the processed-update keys make a second handling of one that did finish a
no-op). Updates go through the Application's update processor, as PTB's own fetcher does:
one chat's in order, different chats concurrently.

An update whose handling failed on an infrastructure fault (the database away; the rule is
`handlers.telegram.app.handle_update`) is not confirmed: it is tried again, with a growing
pause, until it is handled; an update that failed on a bug or bad input was answered with a
sentence and is confirmed, so it cannot hold up everyone behind it.

While updates are in flight, newer ones are fetched with short polls from the oldest one in
flight (those already taken are skipped), every `busy_interval` or as soon as all in flight
have finished; with none in flight it long-polls. (Every such poll reads again all that is
still in flight: polling after each update handled, as it first did, read each update about
as many times as there were updates in hand — most of the CPU under load.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TimedOut
from handlers.telegram import raw
from handlers.telegram.app import handle_update

log = logging.getLogger(__name__)
LONG_POLL_MARGIN = 10  # seconds allowed beyond the long poll's own timeout for the answer
MAX_RETRY_PAUSE = 30.0  # seconds between tries of an update while the database is away


class ConfirmingPoller:
    def __init__(self, application: Any, *, timeout: int = 20, busy_interval: float = 0.05,
                 retry_interval: float = 1.0) -> None:
        self.application = application
        self.timeout = timeout
        self.busy_interval = busy_interval
        self.retry_interval = retry_interval
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._unhandled: set[int] = set()   # failed on an infrastructure fault, not confirmed
        # One past the newest update taken: the offset once nothing is in flight, and the line
        # below which every update fetched has been taken (Telegram hands them out in order).
        self._next: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def offset(self) -> int | None:
        """Never past an update in flight, nor one whose handling failed on an
        infrastructure fault (`_handle`): Telegram keeps those."""
        held = self._in_flight.keys() | self._unhandled
        return min(held) if held else self._next

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="telegram-polling")

    async def stop(self, grace: float) -> bool:
        """Stop fetching, let what is in flight finish (up to `grace` seconds), confirm what
        finished. False when something was still in flight: Telegram will deliver it again."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        finished = True
        if self._in_flight:
            _, pending = await asyncio.wait(list(self._in_flight.values()), timeout=grace)
            finished = not pending
        finished = finished and not self._unhandled
        with contextlib.suppress(Exception):   # tell Telegram what is done; no long poll
            await self.application.bot.get_updates(offset=self.offset(), timeout=0, limit=1)
        return finished

    async def _run(self) -> None:
        bot = self.application.bot
        while not self._stopping.is_set():
            if self._in_flight:
                await asyncio.wait(list(self._in_flight.values()), timeout=self.busy_interval)
            try:
                raw = await self._fetch(bot, 0 if self._in_flight else self.timeout)
            except InvalidToken:
                raise
            except Conflict as error:   # another process polls with this token
                log.warning("telegram polling: %s", error)
                await asyncio.sleep(self.retry_interval * 5)
                continue
            except (NetworkError, TimedOut) as error:
                log.warning("telegram polling: %s", type(error).__name__)
                await asyncio.sleep(self.retry_interval)
                continue
            for data in raw or ():
                # Fetched again because an older update was in flight when the poll was sent:
                # already taken (perhaps finished since), and not parsed again (parsing every
                # re-fetched update cost most of the CPU).
                if not self._is_new(data.get("update_id")):
                    continue
                self._take(Update.de_json(data, bot))

    async def _fetch(self, bot: Any, timeout: int) -> list[dict[str, Any]]:
        """getUpdates from the offset, as raw JSON: only the updates not yet taken are parsed
        (Bot.get_updates would parse every one)."""
        return await raw.get_updates(bot, offset=self.offset(), timeout=timeout,
                                     allowed_updates=Update.ALL_TYPES,
                                     read_timeout=timeout + LONG_POLL_MARGIN)

    def _is_new(self, update_id: Any) -> bool:
        # Not "in flight or finished lately": an update that finished while the poll that
        # returns it again was on the wire would be handled twice (a duplicate that the
        # processed-update keys make harmless, but that costs a database read and a slot).
        return isinstance(update_id, int) and (self._next is None or update_id >= self._next)

    def _take(self, update: Update) -> None:
        update_id = update.update_id   # new: `_run` passes only those `_is_new` lets through
        self._next = update_id + 1
        task = asyncio.create_task(self._handle(update), name=f"telegram-update-{update_id}")
        self._in_flight[update_id] = task
        task.add_done_callback(lambda _, update_id=update_id: self._finished(update_id))

    async def _handle(self, update: Update) -> None:
        """Handle the update; while its handling fails on an infrastructure fault (the
        database away: `handle_update`), try again with a growing pause, the update kept
        unconfirmed. A stop meanwhile leaves it unconfirmed for the next run."""
        pause = self.retry_interval
        while True:
            try:
                if await handle_update(self.application, update):
                    return
            except Exception:  # noqa: BLE001 — PTB's error handlers have had their say
                log.exception("telegram update %s not handled", update.update_id)
                return
            self._unhandled.add(update.update_id)
            if self._stopping.is_set():
                return
            log.warning("telegram update %s to be handled again in %.1f s",
                        update.update_id, pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), pause)
            if self._stopping.is_set():
                return
            self._unhandled.discard(update.update_id)
            pause = min(pause * 2, MAX_RETRY_PAUSE)

    def _finished(self, update_id: int) -> None:
        self._in_flight.pop(update_id, None)
