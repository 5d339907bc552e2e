"""Invite links name the bot Telegram says it is (issue 16, case 11): `python -m bot run`
asked nobody and printed t.me/AmbassadorBot in the Slack invite modal, and the command line
needed an undocumented --bot flag. Both now take the name from getMe — here, the Telegram
emulator's bot — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
from sqlalchemy import select, update

from bot.emulators.slack import SlackEmulator
from bot.emulators.telegram import TelegramEmulator
from storage import migrate
from storage.db import Database
from storage.models import Invite, Person, Role
from storage.operations.people import sync_scheme
from storage.scheme import load_scheme
from tests.bot.test_cli import cli
from tests.bot.test_cli import url  # noqa: F401 — a fresh database on each engine
from tests.bot.test_run_process import free_port
from tests.handlers.telegram.harness import TOKEN
from tests.storage.seed import person

ROOT = Path(__file__).resolve().parents[2]
BOT_NAME = "WestMerciaAmbassadorsBot"   # not the old default, so a match means it was asked
SLACK_TOKEN, SLACK_SECRET = "xoxb-invite-links", "invite-links-signing-secret"
OLIVE = "U0OLIVEOFF"


async def test_the_slack_invite_modal_of_the_running_bot_names_the_real_bot(
        url: str, tmp_path) -> None:  # noqa: F811
    await asyncio.to_thread(migrate.upgrade, url)
    scheme = load_scheme()
    db = Database(url)
    try:
        async with db.transaction() as s:
            await sync_scheme(s, scheme)
            officer = await person(s, Role.OFFICER, "Olive Officer")
            await s.execute(update(Person).where(Person.id == officer.id)
                            .values(slack_id=OLIVE, telegram_id=None))
        port = free_port()
        async with TelegramEmulator(token=TOKEN, bot_username=BOT_NAME) as telegram, \
                SlackEmulator(bot_token=SLACK_TOKEN, signing_secret=SLACK_SECRET,
                              app_url=f"http://127.0.0.1:{port}/slack/events") as slack, \
                aiohttp.ClientSession() as http:
            slack.add_user(OLIVE, "olive", "Olive Officer")
            env = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": TOKEN,
                   "TELEGRAM_API_BASE_URL": telegram.base_url, "SLACK_BOT_TOKEN": SLACK_TOKEN,
                   "SLACK_SIGNING_SECRET": SLACK_SECRET,
                   "SLACK_API_BASE_URL": slack.api_base_url, "HTTP_HOST": "127.0.0.1",
                   "HTTP_PORT": str(port), "MEDIA_DIR": str(tmp_path / "media"),
                   "SCHEME_FILE": ""}
            for unset in ("SLACK_APP_TOKEN", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_BOT_USERNAME"):
                env.pop(unset, None)
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            try:
                for _ in range(300):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("the bot never became healthy")
                await slack.slash_command(OLIVE, "/ambassadors", "invite")
                await slack.wait_for(lambda: slack.views(OLIVE), 10)
                done = await slack.submit_view(OLIVE, values={
                    "name": "Wendy Worcester", "role": "ambassador", "area": "Worcestershire"})
                assert done.errors == {}
                shown = str(slack.views(OLIVE)[0].blocks)
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        await asyncio.wait_for(process.wait(), 30)
                    except TimeoutError:
                        process.kill()
                        await process.wait()
        async with db.transaction() as s:
            [code] = (await s.scalars(select(Invite.code))).all()
        assert f"https://t.me/{BOT_NAME}?start={code}" in shown
        assert "t.me/AmbassadorBot" not in shown
    finally:
        await db.dispose()


def _link(output: str) -> str | None:
    found = re.search(r"https://t\.me/(\w+)\?start=", output)
    return found.group(1) if found else None


async def test_the_command_line_asks_telegram_for_the_name(url: str) -> None:  # noqa: F811
    assert (await asyncio.to_thread(cli, url, "migrate")).returncode == 0
    async with TelegramEmulator(token=TOKEN, bot_username=BOT_NAME) as telegram:
        made = await asyncio.to_thread(
            cli, url, "invite", "--name", "Ann Smith", "--area", "Shropshire",
            env={"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": telegram.base_url})
        assert made.returncode == 0, made.stderr
        assert _link(made.stdout) == BOT_NAME
        assert [c.method for c in telegram.calls] == ["getMe"]
    assert TOKEN not in made.stdout + made.stderr

    # No token on this machine: the setting names the bot; with neither, the code alone.
    named = await asyncio.to_thread(cli, url, "invite", "--name", "Bob Jones", "--area",
                                    "Shropshire", env={"TELEGRAM_BOT_USERNAME": "@" + BOT_NAME})
    assert named.returncode == 0, named.stderr
    assert _link(named.stdout) == BOT_NAME
    bare = await asyncio.to_thread(cli, url, "invite", "--name", "Cat Evans", "--area",
                                   "Shropshire")
    assert bare.returncode == 0, bare.stderr
    assert _link(bare.stdout) is None
    assert "no link, because neither TELEGRAM_BOT_TOKEN nor TELEGRAM_BOT_USERNAME is set" \
        in bare.stdout
    assert "/ambassadors join" in bare.stdout
