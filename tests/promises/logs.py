"""Logs captured as the running bot writes them at LOG_LEVEL=DEBUG (bot/logs.py), to check
that no token or secret and nothing a person typed ever reaches them (DESIGN §7)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from bot.logs import configure_logging
from bot.emulators.telegram import DEFAULT_TOKEN as EMULATOR_TELEGRAM_TOKEN
from tests.handlers.slack.harness import SECRET as SLACK_SECRET
from tests.handlers.slack.harness import TOKEN as SLACK_TOKEN
from tests.handlers.telegram.harness import TOKEN as TELEGRAM_TOKEN

WEBHOOK_SECRET = "promises-webhook-secret-0123456789"
SECRETS = (TELEGRAM_TOKEN, EMULATOR_TELEGRAM_TOKEN, SLACK_TOKEN, SLACK_SECRET, WEBHOOK_SECRET,
           # the token's secret half alone, as it would appear in a URL cut at the colon
           TELEGRAM_TOKEN.split(":", 1)[1])
# Every scripted message a person types in these tests carries this word, so a log line that
# quotes what someone wrote is found whatever else it says.
TYPED = "Zxqv"
# The emulators stand in for Telegram's and Slack's servers (they hold the secrets on their
# side of the wire); what they log is not the bot's log.
NOT_THE_BOT = ("bot.emulators",)


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        # Each line without its level and logger name: what a person typed is looked for here,
        # so that typing "schedule" is not found in "apscheduler.scheduler".
        self.said: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(NOT_THE_BOT):
            return
        try:
            line = self.format(record)
        except Exception as error:  # noqa: BLE001 — a record that can't format is a finding
            line = f"UNFORMATTABLE {record.name}: {type(error).__name__}"
        self.lines.append(line)
        self.said.append(line.split(": ", 1)[1] if ": " in line else line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def debug_logs() -> Iterator[Collected]:
    """Logging configured as `python -m bot run` does with LOG_LEVEL=DEBUG, every record
    collected (tracebacks included); the previous configuration is restored afterwards."""
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers))
    saved = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    configure_logging("DEBUG")
    collected = Collected()
    for output in root.handlers:  # what the configured output lets through, and only that
        for check in output.filters:
            collected.addFilter(check)
    root.addHandler(collected)
    try:
        yield collected
    finally:
        root.setLevel(saved_root[0])
        root.handlers[:] = saved_root[1]
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def leaks(collected: Collected, typed: Sequence[str] = ()) -> list[str]:
    """The secrets, and the typed texts (at least 8 characters; the marker always), that
    appear in the collected logs."""
    text = collected.text
    found = [f"secret {secret[:6]}…" for secret in SECRETS if secret and secret in text]
    if TYPED in text:
        found.append(f"typed text: {next(line for line in collected.lines if TYPED in line)}")
    said = "\n".join(collected.said)
    found += [f"typed text {t[:30]!r}" for t in typed if len(t.strip()) >= 8 and t in said]
    return found
