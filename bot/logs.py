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


def configure_logging(level: str = "INFO", style: str = "console") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if style == "json" else logging.Formatter(
        "%(asctime)s %(levelname)-7s %(name)s:%(about)s %(message)s"))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Clamped whatever LOG_LEVEL says: at DEBUG these libraries log whole updates, request
    # bodies and SQL parameters (what the public wrote), and httpx logs every request URL,
    # which for Telegram contains the bot token.
    for noisy in ("httpx", "httpcore", "aiosqlite", "asyncpg", "sqlalchemy", "telegram",
                  "slack_sdk", "slack_bolt", "aiohttp.access", "apscheduler.executors",
                  "hpack", "PIL"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
