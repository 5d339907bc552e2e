"""The typed context every Telegram callback gets: the services built in bot/."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from storage.db import Database
from storage.models import utcnow
from storage.operations.updates import Arrival, Once
from storage.scheme import Scheme


@dataclass
class Services:
    db: Database
    scheme: Scheme
    clock: Callable[[], dt.datetime] = utcnow
    # Turns one received photo/video into the fields of a Media record (download, make safe).
    media_intake: Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]] | None = None
    bot_username: str = "AmbassadorBot"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Handling:
    """One update in hand, from the first look at it (handlers/telegram/once.py) on: the
    handlers of the router's group read what arrived here and open the transaction that
    changes records through `transaction()`, which records the update with the change."""

    once: Once
    started: float = field(default_factory=time.perf_counter)   # for /metrics' latency
    arrival: Arrival | None = None
    # A typed answer already taken and saved, with the update recorded, in the transaction
    # that read the arrival (conversation.Step): only its next question is left to send.
    taken: Any = None

    def transaction(self) -> Any:
        return self.once.transaction()


class Ctx(CallbackContext[ExtBot, dict, dict, dict]):
    # PTB builds one context per update and hands it to every handler group in turn.
    handling: Handling

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]


App = Application[ExtBot, Ctx, dict, dict, dict, Any]
