"""A fresh migrated database per test, on SQLite and on PostgreSQL, with an ambassador and a
Slack-only Commissioner; the emulators with the scheme's channels."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.emulators.slack import SlackEmulator
from bot.emulators.telegram import TelegramEmulator
from storage import migrate
from storage.db import Database
from storage.models import Person, Role
from storage.operations.people import sync_scheme
from storage.scheme import Scheme, load_scheme
from tests.conftest import PG_URL
from tests.crash.harness import CHANNELS, SLACK_SECRET, SLACK_TOKEN, free_port
from tests.handlers.telegram.harness import TOKEN
from tests.storage.seed import person

COMMISSIONER_SLACK = "UCRASHCOMMISSIONER"
_names = itertools.count()


@dataclass
class World:
    url: str
    engine: str
    db: Database            # the test's own connection, for reading what the bot wrote
    scheme: Scheme
    ambassador: Person
    telegram: TelegramEmulator
    slack: SlackEmulator
    port: int


@pytest.fixture(params=["sqlite", "postgresql"])
async def world(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[World]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL half: run `make test` (or set DATABASE_URL_PG)")
        from tests.storage.test_migrations import _fresh_pg_database
        url = await _fresh_pg_database(f"crash_{request.node.name.split('[')[0][-30:]}"
                                       f"_{next(_names)}".lower())
    await asyncio.to_thread(migrate.upgrade, url)
    scheme = load_scheme()
    db = Database(url)
    async with db.transaction() as s:
        await sync_scheme(s, scheme)
        ambassador = await person(s, Role.AMBASSADOR, "Ann Shropshire", "Shropshire")
        commissioner = await person(s, Role.COMMISSIONER, "John Campion")
        commissioner.telegram_id, commissioner.slack_id = None, COMMISSIONER_SLACK
    port = free_port()
    async with TelegramEmulator(token=TOKEN) as telegram, \
            SlackEmulator(bot_token=SLACK_TOKEN, signing_secret=SLACK_SECRET,
                          app_url=f"http://127.0.0.1:{port}/slack/events") as slack:
        slack.add_user(COMMISSIONER_SLACK, "commissioner", "John Campion")
        for key in CHANNELS:
            slack.add_channel(getattr(scheme.channels, key))
        try:
            yield World(url, request.param, db, scheme, ambassador, telegram, slack, port)
        finally:
            await db.dispose()
