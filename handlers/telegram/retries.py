"""Replies that Telegram refused for now are sent again (DESIGN §7 "Nothing lost").

A handler answers the person directly (the next question, a refusal); when Telegram says 429
"retry after N" or fails with a 5xx page, or the connection could not even be opened, the
request certainly did nothing, so it is made again: after Telegram's `retry_after`, or a short
growing pause. A timeout is never retried here — the message may have arrived, and sending it
again would show it twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import httpx
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)
_NOT_SENT = (httpx.ConnectError, aiohttp.ClientConnectorError)


def _refused_for_now(error: Exception) -> float | None:
    """Seconds to wait before trying again, or None when it must not be tried again."""
    if isinstance(error, RetryAfter):
        with warnings.catch_warnings():   # PTB 22 warns that this becomes a timedelta
            warnings.simplefilter("ignore")
            after = error.retry_after
        return after.total_seconds() if isinstance(after, dt.timedelta) else float(after)
    # BadRequest is a NetworkError to PTB, but Telegram answered it: asking again gets the same
    # answer (a button press answered twice took 8 s of retries, holding up the chat).
    if isinstance(error, NetworkError) and not isinstance(error, (TimedOut, BadRequest)):
        cause = error.__cause__
        # A 5xx answer (its page may not even be JSON), or a connection never opened.
        if cause is None or isinstance(cause, (TelegramError, *_NOT_SENT)):
            return 0.0
    return None


class ReplyRetries(BaseRateLimiter[None]):
    def __init__(self, attempts: int = 6, pause: float = 0.25, max_pause: float = 5.0,
                 max_retry_after: float = 30.0) -> None:
        self.attempts, self.pause, self.max_pause = attempts, pause, max_pause
        self.max_retry_after = max_retry_after

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]],
                              args: Any, kwargs: dict[str, Any], endpoint: str,
                              data: dict[str, Any], rate_limit_args: None) -> Any:
        pause = self.pause
        for attempt in range(1, self.attempts + 1):
            try:
                return await callback(*args, **kwargs)
            except (RetryAfter, NetworkError) as error:
                wait = _refused_for_now(error)
                if wait is None or attempt == self.attempts or wait > self.max_retry_after:
                    raise
                log.info("telegram %s refused for now (%s); trying again", endpoint,
                         type(error).__name__)
                await asyncio.sleep(max(wait, pause))
                pause = min(pause * 2, self.max_pause)
        raise AssertionError("unreachable")
