"""Issue 16 case 12: the sandbox restarted on the database and data folder of an earlier run
answers the first message on either side. Its emulators continue their ids (Telegram's update
ids, Slack's event ids) instead of starting again at values the earlier run recorded as
handled, which made the bot ignore them as repeats."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.sandbox import Sandbox, SandboxConfig
from bot.sandbox.seed import AMBASSADORS, OFFICE

ANN = AMBASSADORS[0].telegram_id
OLIVIA = OFFICE[0].slack_id


async def say_and_hear(sandbox: Sandbox) -> None:
    """Ann taps /menu on her phone and Olivia writes to the app: both are answered."""
    async with aiohttp.ClientSession(sandbox.url) as http:
        sent = await http.post(f"/api/telegram/chats/{ANN}/text", json={"text": "/menu"})
        assert sent.status == 200
        wrote = await http.post("/api/slack/message", json={"user": OLIVIA, "text": "hello"})
        assert wrote.status == 200
    telegram, slack = sandbox.telegram, sandbox.slack
    before = len(telegram.bot_messages(ANN))
    await telegram.wait_for(lambda: any(
        "What would you like to do?" in (m.text or "")
        for m in telegram.bot_messages(ANN)[before - 1:]), 10)
    dm = slack.user(OLIVIA).dm_channel
    await slack.wait_for(lambda: any("Hello Olivia" in (m.text or "")
                                     for m in slack.messages(dm)), 10)


async def test_a_restarted_sandbox_answers_the_first_messages(tmp_path: Path) -> None:
    def config(reset: bool) -> SandboxConfig:
        return SandboxConfig(db_path=tmp_path / "sandbox.db", data_dir=tmp_path / "data",
                             port=0, reset=reset, schedules=False)

    async with Sandbox(config(reset=True)) as first:
        await say_and_hear(first)
        first_ids = (first.telegram.last_update_id, )
    async with Sandbox(config(reset=False)) as again:   # the same database and data folder
        await say_and_hear(again)
        assert again.telegram.last_update_id > first_ids[0]
