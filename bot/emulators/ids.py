"""Ids an emulator hands out that continue across its restarts, as the real services' do.

A bot records the ids it has handled (Telegram's update ids, Slack's event ids) so that a
repeat is not handled twice. An emulator that started its ids again from the same value
after a restart would have the bot ignore its first messages as repeats of the earlier run's.
Given a state directory, the last id handed out is kept in a small JSON file there, replaced
whole on every id (a process stopped at any point leaves the old file or the new one)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class KeptCounter:
    """`take()` gives `first`, `first + 1`, ... and, with a `path`, carries on after the
    largest id handed out by any earlier run that used the same file."""

    def __init__(self, path: Path | None, first: int) -> None:
        self.path = path
        self.next = first
        if path is not None and path.exists():
            try:
                last = json.loads(path.read_text(encoding="utf-8"))["last"]
                if isinstance(last, int) and not isinstance(last, bool):
                    self.next = max(first, last + 1)
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("ignoring an unreadable id file %s", path)

    def take(self) -> int:
        taken = self.next
        self.seen(taken)
        return taken

    def seen(self, value: int) -> None:
        """An id given from outside (a test naming its own): never hand it out again."""
        if value < self.next:
            return
        self.next = value + 1
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.path.with_name(self.path.name + ".new")
            scratch.write_text(json.dumps({"last": value}), encoding="utf-8")
            os.replace(scratch, self.path)
