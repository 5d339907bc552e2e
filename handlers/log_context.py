"""What a log line is about: the request and the person, as ids — never what anyone wrote.

Handlers set these as an update or a Slack request is handled; bot/logs.py adds them to every
line logged meanwhile, so one person's trouble can be followed through the logs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
person_id: ContextVar[int | None] = ContextVar("person_id", default=None)


@contextmanager
def handling(request: str) -> Iterator[None]:
    """Lines logged inside are about `request` (and about nobody yet)."""
    request_token = request_id.set(request)
    person_token = person_id.set(None)
    try:
        yield
    finally:
        person_id.reset(person_token)
        request_id.reset(request_token)


def about_person(pid: int | None) -> None:
    person_id.set(pid)
