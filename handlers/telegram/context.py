"""The typed context every Telegram callback gets: the services built in bot/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from storage.db import Database
from storage.models import utcnow
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


class Ctx(CallbackContext[ExtBot, dict, dict, dict]):
    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]


App = Application[ExtBot, Ctx, dict, dict, dict, Any]
