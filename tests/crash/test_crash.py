"""Crash: `python -m bot run` killed with SIGKILL at 20 points while an ambassador pre-notifies
an engagement, files urgent feedback on it and recommends a grant, and while the office's posts
and the Commissioner's digest go out through the outbox (DESIGN §7 "Nothing lost").

After every restart: the form carries on from the question it was at, every answer typed
(before the kill, during it, or while the bot was down) is taken exactly once, no record is
missing or doubled, and at the end every outbox row was delivered exactly once or is flagged
as of unknown outcome (the dispatcher died while sending it).

Each kill point waits for something that happened — the question on the phone, the bot holding
an update while the test holds the database's write lock, an emulator fault being served, a
row in the database, the digest command having the database open — then sends SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from scheduler.digest import DIGEST_EVENT
from storage.models import Engagement, Feedback, FollowUp, FormDraft, GrantRecommendation, Outbox
from tests.crash.conftest import World
from tests.crash.harness import (ROOT, BotProcess, HandOuts, Person, bot_env, outbox_figures,
                                 processed_keys, settled, someone_waits_for_a_lock, until,
                                 writes_held)
from tests.handlers.telegram.harness import said

# A crashed dispatcher's claim on a row runs out after this (production: 120 s).
LEASE_SECONDS = "2"
SUMMARY_TEXT = ("Residents — including Zoë and 李雷 — worried about dealing near the bus "
                "station; they asked for *more* patrols & <b>lighting</b>. " * 12).strip()
ARTIFACTS = ROOT / "test-artifacts"


class Crashes:
    def __init__(self, world: World, bot: BotProcess, ann: Person) -> None:
        self.world, self.bot, self.ann = world, bot, ann
        self.points: list[str] = []
        self.handouts = HandOuts(world.telegram)

    async def kill(self, name: str) -> None:
        await self.bot.kill()
        self.points.append(name)

    async def restart(self) -> None:
        await self.bot.start()

    async def crash(self, name: str) -> None:
        await self.kill(name)
        await self.restart()

    async def taken(self, update_id: int) -> None:
        """The bot has received the update (and, with the write lock held, cannot have
        finished it): on PostgreSQL it is waiting for the lock."""
        await until(lambda: self.handouts.received(update_id), 30, f"update {update_id}")
        if self.world.engine == "postgresql":
            await until(lambda: someone_waits_for_a_lock(self.world.db), 30, "a lock wait")

    async def draft(self) -> dict:
        async with self.world.db.transaction() as s:
            row = await s.scalar(select(FormDraft).where(
                FormDraft.person_id == self.world.ambassador.id))
        return dict(row.state) if row else {}

    async def count(self, model) -> int:
        async with self.world.db.transaction() as s:
            return await s.scalar(select(func.count()).select_from(model))

    async def outbox(self, event: str) -> list[Outbox]:
        async with self.world.db.transaction() as s:
            return list((await s.scalars(select(Outbox).where(Outbox.event == event))).all())


async def digest_command(world: World, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "digest", "--now", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


def has_open(pid: int, path: str) -> bool:
    try:
        return any(os.path.realpath(f"/proc/{pid}/fd/{fd}") == path
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


async def test_twenty_kills_lose_nothing_and_double_nothing(world: World, tmp_path) -> None:
    env = bot_env(world.url, world.telegram, world.slack, world.port, tmp_path / "media",
                  OUTBOX_LEASE_SECONDS=LEASE_SECONDS)
    bot = BotProcess(env, world.port, tmp_path / "bot.log")
    ann = Person(world.telegram.user(world.ambassador.telegram_id, "Ann"))
    user, slack, telegram = ann.user, world.slack, world.telegram
    c = Crashes(world, bot, ann)
    channels = world.scheme.channels
    await bot.start()
    try:
        # ---- pre-notify -------------------------------------------------------------------
        await ann.command("/prenotify")
        await said(user, "What is the engagement called?", 30)
        await c.crash("1. first question asked")
        await ann.text("Crash-test parish council")
        kinds = await said(user, "What kind of engagement", 30)

        await c.crash("2. between answers (a question with buttons)")
        await ann.press("Parish council meeting", kinds)
        await said(user, "Which area is it in?", 30)

        await c.kill("3. down while the ambassador answers")
        await ann.press("Shropshire")
        await c.restart()
        await said(user, "Where is it?", 30)

        async with writes_held(world.url):
            update = await ann.text("Memorial Hall, Much Wenlock")
            await c.taken(update)
            await c.kill("4. mid-answer (the bot holds the answer, its write is waiting)")
        await c.restart()
        await said(user, "When does it start?", 30)
        assert (await c.draft())["answers"]["place"] == "Memorial Hall, Much Wenlock"

        hang = telegram.faults.hang("sendMessage", seconds=3)
        await ann.text("tomorrow 7pm")
        await until(lambda: hang.times == 0, 30, "the question's sendMessage to hang")
        await c.crash("5. answer saved, the next question not yet sent")
        await said(user, "How long will it last?", 30)   # the hung call lands after all
        await ann.press("2 hours")
        await said(user, "Roughly how many people", 30)

        async with writes_held(world.url):
            first = await ann.text("30")
            await ann.text("skip")
            await c.taken(first)
            await c.kill("6. two answers typed in a row, the first one being handled")
        await c.restart()
        await said(user, "please check", 30)
        assert (await c.draft())["answers"]["expected_audience"] == 30

        async with writes_held(world.url):
            update = await ann.press("✅ Submit")
            await c.taken(update)
            await c.kill("7. mid-submit (the bot holds the submit, its write is waiting)")
        slack.faults.hang("chat.postMessage", seconds=4)
        await c.restart()
        await said(user, "the office knows about “Crash-test parish council”", 30)
        assert await c.count(Engagement) == 1

        await until(lambda: ("chat.postMessage", "hang") in slack.faults.served, 30,
                    "the engagement post to hang")
        await c.crash("8. mid-dispatch (Slack holds the engagement post)")
        await until(lambda: settled(world.db), 60, "the outbox to settle")

        # ---- feedback with an urgent follow-up ------------------------------------------
        await ann.command("/feedback")
        await said(user, "Which engagement", 30)
        await c.crash("9. feedback: first question asked")
        await ann.press("➕ One I didn't pre-notify")
        await said(user, "called?", 30)
        await _answer_feedback_until_summary(ann)

        await c.kill("10. down while the ambassador types a long summary")
        await ann.text(SUMMARY_TEXT)
        await c.restart()
        await said(user, "What came of it", 30)
        assert (await c.draft())["answers"]["summary"] == SUMMARY_TEXT
        await ann.press("Skip ▶")
        await said(user, "follow anything up", 30)
        await ann.press("Police or a partner")
        await said(user, "What needs following up", 30)
        await ann.text("Pass the report of dealing to the neighbourhood team today.")
        await said(user, "How urgent", 30)

        async with writes_held(world.url):
            update = await ann.press("Urgent")
            await c.taken(update)
            await c.kill("11. mid-answer on a button (urgency)")
        await c.restart()
        await said(user, "How long did you spend", 30)
        await c.crash("12. between answers (feedback)")
        await ann.text("2h30")
        await said(user, "please check", 30)

        slack.faults.fail("chat.postMessage", times=1)
        slack.faults.hang("chat.postMessage", seconds=4)
        async with writes_held(world.url):
            update = await ann.press("✅ Submit")
            await c.taken(update)
            await c.kill("13. mid-submit (feedback)")
        await c.restart()
        await said(user, "flagged as urgent", 30)
        assert (await c.count(Feedback), await c.count(FollowUp)) == (1, 1)
        await until(lambda: ("chat.postMessage", "hang") in slack.faults.served, 30,
                    "an office post to hang after a 500")
        await c.crash("14. mid-dispatch after a 500 (Slack holds an office post)")
        await until(lambda: settled(world.db), 60, "the outbox to settle")

        # ---- a grant ----------------------------------------------------------------------
        await ann.command("/grant")
        await said(user, "Which organisation", 30)
        await ann.text("Much Wenlock Youth Club")
        await said(user, "Who is their contact", 30)
        await ann.text("Sam Jones, 01952 000000")
        await said(user, "What is the project", 30)
        await ann.text("Summer boxing sessions for 12–16 year olds")
        await said(user, "How much", 30)
        await c.crash("15. between answers (grant amount asked)")
        await ann.text("£750")
        await said(user, "Which objectives", 30)
        # The tick is saved, and the bot dies before its buttons are redrawn with it.
        telegram.faults.hang("editMessageReplyMarkup", seconds=30, then_answer=False)
        await ann.press("▫️ Reassuring West Mercia's communities")
        await until(_draft_has(c, "objectives", partial=True), 30, "the ticked objective saved")
        await c.crash("16. a multiple choice half made, not yet shown")
        # The restarted bot shows it by asking the question again (the tap comes again, and an
        # earlier run handled it); a tap on the old buttons would be refused as stale.
        shown = await until(_buttons_show_the_draft(c, user), 30, "the ticked question shown")
        assert "▫️ Reassuring West Mercia's communities" not in [
            text for row in shown.buttons for text, _ in row]
        await ann.press("Done ✔")
        await said(user, "Did you come across it", 30)
        await ann.press("Skip ▶")
        await said(user, "please check", 30)

        slack.faults.rate_limit("chat.postMessage", times=1, retry_after=3)
        async with writes_held(world.url):
            update = await ann.press("✅ Submit")
            await c.taken(update)
            await c.kill("17. mid-submit (grant)")
        await c.restart()
        await said(user, "your recommendation of £750 for Much Wenlock Youth Club", 30)
        assert await c.count(GrantRecommendation) == 1

        async def told_to_wait() -> bool:
            return any(row.status == "pending" and "ratelimited" in (row.error or "")
                       for row in await c.outbox("grant_recommended"))
        await until(told_to_wait, 30, "the grant post to be rate limited")
        await c.crash("18. Slack said 429 retry-after; killed during the wait")
        await until(lambda: settled(world.db), 60, "the outbox to settle")

        # ---- the digest -------------------------------------------------------------------
        async with writes_held(world.url, "outbox"):
            command = await digest_command(world, env)
            if world.engine == "postgresql":
                await until(lambda: someone_waits_for_a_lock(world.db), 60,
                            "digest --now to wait for the lock")
            else:
                database = os.path.realpath(world.url.split("///", 1)[1])
                await until(lambda: has_open(command.pid, database), 60,
                            "digest --now to open the database")
            command.send_signal(signal.SIGKILL)
            await command.wait()
            c.points.append("19. python -m bot digest --now killed mid-transaction")
        assert await c.outbox(DIGEST_EVENT) == []
        slack.faults.hang("files.getUploadURLExternal", seconds=4)
        command = await digest_command(world, env)
        assert await command.wait() == 0
        await until(lambda: ("files.getUploadURLExternal", "hang") in slack.faults.served, 60,
                    "the digest chart upload to hang")
        await c.crash("20. mid-dispatch of the digest (its chart upload held)")
        await until(lambda: settled(world.db), 60, "the outbox to settle")

        # ---- what must hold -------------------------------------------------------------------
        await ann.command("/mine")
        await said(user, "Crash-test parish council", 30)
        async with world.db.transaction() as s:
            titles = sorted((await s.scalars(select(Engagement.title))).all())
        assert titles == ["Crash-test parish council", "Street surgery"]
        assert (await c.count(Feedback), await c.count(FollowUp)) == (1, 1)
        assert await c.count(GrantRecommendation) == 1
        assert await c.draft() == {}
        assert len(await c.outbox(DIGEST_EVENT)) == 2      # the channel and the Commissioner
        # A reply can be on screen a moment before its update is recorded (a command that
        # writes nothing is recorded after it answers), so a late one is given a moment.
        for _ in range(100):
            keys = await processed_keys(world.db)
            lost = [u for u in ann.sent if f"tg:{u}" not in keys]
            if not lost:
                break
            await asyncio.sleep(0.1)
        assert lost == [], f"updates never taken: {lost}"
        figures = await outbox_figures(world.db, telegram, slack)
        assert figures.lost == [] and figures.duplicates == [], figures
        assert len(c.points) == 20, c.points
    finally:
        code = await bot.stop()
    output = bot.output()
    assert "Traceback" not in output.split("===== start 20 =====")[-1] or code == 0
    assert world.telegram.token not in output and SUMMARY_TEXT[:40] not in output
    report = {"engine": world.engine, "kill_points": len(c.points), "restarts_ok": len(c.points),
              "updates_sent": len(ann.sent), "updates_lost": len(lost),
              **figures.as_dict(), "points": c.points}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"crash-{world.engine}.json").write_text(json.dumps(report, indent=2))
    print(f"\ncrash [{world.engine}]: {len(c.points)}/20 restarts, updates lost {len(lost)}, "
          f"messages lost {figures.as_dict()['lost']}, duplicates {len(figures.duplicates)}, "
          f"unknown-outcome {figures.flagged_unknown} of {figures.rows} outbox rows")


def _buttons_show_the_draft(c: Crashes, user):
    """The latest message with buttons, once they are those of the draft as saved (its
    sequence number): what a tap there does is what the person sees."""
    async def check() -> Any:
        seq = (await c.draft()).get("seq")
        latest = next((m for m in reversed(user.chat.bot_activity) if m.buttons), None)
        if latest is not None and any(value.startswith(f"f|{seq}|")
                                      for row in latest.buttons for _, value in row):
            return latest
        return None
    return check


def _draft_has(c: Crashes, name: str, partial: bool = False):
    async def check() -> bool:
        state = await c.draft()
        if partial:
            return bool(state.get("picked") or state.get("ticked") or
                        state.get("answers", {}).get(name) or state.get("partial"))
        return name in state.get("answers", {})
    return check


async def _answer_feedback_until_summary(ann: Person) -> None:
    user = ann.user
    await ann.text("Street surgery")
    await said(user, "What kind", 30)
    await ann.press("Surgery or drop-in")
    await said(user, "Where is it?", 30)
    await ann.text("Oswestry market")
    await said(user, "When did it start?", 30)
    await ann.text("yesterday 10am")
    await said(user, "How long did it last?", 30)
    await ann.press("2 hours")
    await said(user, "How many people", 30)
    await ann.text("40")
    await said(user, "Which groups", 30)
    await ann.press("▫️ Older people")
    await said(user, "Which groups", 30)
    await ann.press("Done ✔")
    await said(user, "Which topics", 30)
    await ann.press("▫️ Drugs")
    await said(user, "Which topics", 30)
    await ann.press("Done ✔")
    await said(user, "write a summary", 30)
