"""Logging: readable lines for development, one JSON object per event in production.

Never a token, never a message body from the public: handlers log ids and kinds only, and
httpx's request lines (which carry the bot token in the URL) are kept at WARNING.
"""

from __future__ import annotations

import json
import logging
import sys

from handlers import log_context


class ContextFilter(logging.Filter):
    """Adds the request and person ids being handled (handlers/log_context.py) to a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = log_context.request_id.get()
        record.person_id = log_context.person_id.get()
        about = [f"{key}={value}" for key, value in (("request", record.request_id),
                                                     ("person", record.person_id))
                 if value is not None]
        record.about = f" [{' '.join(about)}]" if about else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {"at": self.formatTime(record), "level": record.levelname,
                 "logger": record.name, "event": record.getMessage()}
        for key in ("request_id", "person_id"):
            if getattr(record, key, None) is not None:
                event[key] = getattr(record, key)
        if record.exc_info:
            event["error"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


# Libraries that at DEBUG or INFO log whole updates, request bodies and SQL parameters (what
# the public wrote), or request URLs (which for Telegram contain the bot token).
NOISY = ("httpx", "httpcore", "aiosqlite", "asyncpg", "sqlalchemy", "telegram", "slack_sdk",
         "slack_bolt", "aiohttp.access", "apscheduler.executors", "hpack", "PIL")


class QuietLibraries(logging.Filter):
    """Drops the NOISY libraries' records below WARNING whatever their loggers' levels say:
    slack_bolt, for one, gives each of its loggers the root's level when it is created, so
    clamping the parent is not enough (at INFO it logs the body of a request whose signature
    failed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return not any(record.name == name or record.name.startswith(name + ".")
                       for name in NOISY)


def configure_logging(level: str = "INFO", style: str = "console") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if style == "json" else logging.Formatter(
        "%(asctime)s %(levelname)-7s %(name)s:%(about)s %(message)s"))
    handler.addFilter(QuietLibraries())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Clamped whatever LOG_LEVEL says (and filtered at the handler, above).
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
