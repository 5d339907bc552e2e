"""The sandbox's clock: real time plus an offset the page moves forward.

The bot, the forms, the reminders and the digest all read `Services.clock`; in the sandbox that
is one `SandboxClock`, so "advance a day" moves everyone's idea of now together and the
nudges and reminders that fall due can be seen. The offset is kept in a small file beside the
database, so a sandbox restarted without --reset does not travel back in time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

from storage.models import utcnow

log = logging.getLogger(__name__)


class SandboxClock:
    """Callable like `utcnow`: `clock()` is an aware UTC datetime, `offset` ahead of real time."""

    def __init__(self, state_file: Path | None = None) -> None:
        self.state_file = state_file
        self.offset = dt.timedelta(0)
        if state_file is not None and state_file.exists():
            try:
                seconds = json.loads(state_file.read_text(encoding="utf-8"))["offset_seconds"]
                self.offset = dt.timedelta(seconds=float(seconds))
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring an unreadable clock file %s", state_file)

    def __call__(self) -> dt.datetime:
        return utcnow() + self.offset

    def now(self) -> dt.datetime:
        """The same, for scheduler/runner.py's clock protocol."""
        return self()

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move the clock forward (never back: records and marks assume time only grows)."""
        if delta <= dt.timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        self.offset += delta
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.state_file.write_text(json.dumps(
                {"offset_seconds": self.offset.total_seconds()}), encoding="utf-8")
        return self()
