"""Issue 16 case 12 on both databases: an emulator started again on its state directory
continues its ids, so the bot (which records the ids it handled) answers the first message
after the restart instead of dropping it as a repeat. The real python-telegram-bot polls the
Telegram emulator; the real Bolt app answers the Slack emulator's signed events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import select

from bot.emulators.ids import KeptCounter
from bot.emulators.slack import SlackEmulator
from bot.emulators.telegram import TelegramEmulator
from handlers.slack.app import build_slack_app, slack_events_handler
from storage.models import Outbox, Role
from tests.handlers.slack.harness import SECRET, SLACK_IDS, link_slack_ids
from tests.handlers.slack.harness import TOKEN as SLACK_TOKEN
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, said
from tests.storage.seed import NOW, Cast


async def test_the_telegram_emulator_continues_its_update_ids(db, scheme, tmp_path) -> None:
    cast = await Cast.create(db, scheme)
    seen: list[int | None] = []
    for _run in range(2):                                    # the second run: a restart
        async with TelegramEmulator(token=TOKEN, state_dir=tmp_path / "data") as emu:
            bot = await RunningBot(emu, db, scheme, Clock(NOW)).start()
            try:
                ann = emu.user(cast.ambassador.telegram_id, "Ann")
                await ann.send_command("/menu")
                await said(ann, "What would you like to do?")
            finally:
                await bot.stop()
            seen.append(emu.last_update_id)
    assert seen[0] is not None and seen[1] is not None and seen[1] > seen[0]


async def answers_to(db, slack_id: str) -> list[str]:
    async with db.transaction() as s:
        rows = await s.scalars(select(Outbox).where(Outbox.destination == slack_id)
                               .order_by(Outbox.id))
        return [row.payload["text"] for row in rows]


async def hello(db, scheme, cast, state_dir: Path) -> list[str]:
    """One run of the office side: Olivia writes to the app in her DM; what the app has
    queued to her by the time it answered (the dispatcher posts it)."""
    olivia = SLACK_IDS[Role.OFFICER]
    before = len(await answers_to(db, olivia))
    async with SlackEmulator(bot_token=SLACK_TOKEN, signing_secret=SECRET,
                             state_dir=state_dir) as emu, aiohttp.ClientSession() as session:
        emu.add_user(olivia, "olivia", cast.officer.name)
        app = build_slack_app(db, scheme, token=SLACK_TOKEN, signing_secret=SECRET,
                              api_base_url=emu.api_base_url, clock=Clock(NOW),
                              session=session, telegram_bot_username="AmbassadorTestBot")
        server = web.Application()
        server.router.add_post("/slack/events", slack_events_handler(app))
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            host, port = runner.addresses[0][:2]
            emu.app_url = f"http://{host}:{port}/slack/events"
            await emu.send_dm(olivia, "hello")
            async with asyncio.timeout(10):   # Bolt acks first, then runs the listener
                while len(answers := await answers_to(db, olivia)) == before:
                    await asyncio.sleep(0.05)
            return answers[before:]
        finally:
            await runner.cleanup()


async def test_the_slack_emulator_continues_its_event_ids(db, scheme, tmp_path) -> None:
    cast = await Cast.create(db, scheme)
    await link_slack_ids(db, cast)
    first = await hello(db, scheme, cast, tmp_path / "data")
    again = await hello(db, scheme, cast, tmp_path / "data")   # restarted on the same folder
    assert len(first) == 1 and first[0].startswith("Hello ")
    assert again == first


def test_kept_ids_survive_a_bad_file_and_ids_given_from_outside(tmp_path) -> None:
    path = tmp_path / "ids.json"
    counter = KeptCounter(path, 100)
    assert [counter.take(), counter.take()] == [100, 101]
    counter.seen(500)                        # a test pushed an update with its own id
    assert json.loads(path.read_text()) == {"last": 500}
    assert KeptCounter(path, 100).take() == 501
    path.write_text("{not json")             # unreadable: start from the first, say so
    assert KeptCounter(path, 100).take() == 100
    assert KeptCounter(None, 7).take() == 7  # without a file nothing is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.json"]
