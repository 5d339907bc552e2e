"""The same Telegram update twice is handled once (DESIGN §7 "Nothing lost" — and nothing
doubled): ambassadors go through a mix of flows (commands, menu buttons, typed answers, a
photo, a stale button, text with no form, an unknown command; a stranger and a deactivated
person knock), then the emulator re-delivers every one of those updates byte for byte. The
database must hold the same rows and every chat the same messages, edits and button answers.

Used by tests/promises/test_duplicates.py (a few hundred updates) and by
`python -m bench promises` (1,000).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import func, select

from bot.emulators.telegram import FakeUser, TelegramEmulator
from handlers.telegram.media import telegram_media_intake
from storage.db import Database
from storage.media import MediaStore, PhotoProcessor
from storage.models import (AuditEvent, Engagement, Feedback, FormDraft, GrantRecommendation,
                            HoursEntry, Media, Outbox, Person, Role)
from storage.operations import engagements
from storage.scheme import Scheme
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, buttons, said
from tests.promises.logs import TYPED
from tests.storage.seed import NOW, person

COUNTED = (Engagement, HoursEntry, Media, Feedback, GrantRecommendation, Outbox, AuditEvent,
           FormDraft)
UPDATES_PER_AMBASSADOR = 30
KNOCKS = 5  # updates each from a stranger and from a deactivated person


def small_jpeg(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (shade % 256, 90, 40)).save(out, "JPEG")
    return out.getvalue()


@dataclass
class Result:
    updates: int = 0                    # updates delivered first time
    redelivered: int = 0
    duplicate_rows: dict[str, int] = field(default_factory=dict)   # table: extra rows
    duplicate_messages: int = 0         # messages, edits and button answers seen twice
    lost: list[str] = field(default_factory=list)                  # expected, not found
    examples: list[str] = field(default_factory=list)  # a few of the doubled messages

    @property
    def duplicates(self) -> int:
        return sum(self.duplicate_rows.values()) + self.duplicate_messages


Step = tuple[str, Any, str]  # (what, argument, what the bot says next)


def script(n: int) -> list[Step]:
    """Thirty updates: hours from the menu, a photo, a pre-notification, and read-only ones."""
    return [
        ("command", "/help", "I help you keep"),
        ("command", "/menu", "What would you like to do?"),
        ("press", "⏱ Log hours", "Which day?"),
        ("press", "Today", "How long did you work?"),
        ("text", "2", "What did you do?"),
        ("press", "Skip ▶", "please check"),
        ("press", "✅ Submit", "Logged 2h"),
        ("command", "/mine", "Your records"),
        ("command", "/photos", "Which engagement are they from?"),
        ("press_containing", "Clun show", "Send the photos or video now"),
        ("photo", n, "Received 1"),
        ("press", "Done ✔", "Did everyone shown agree"),
        ("press", "Yes", "Are any children"),
        ("press", "No", "Anything the office should know"),
        ("text", f"{TYPED} stall by the <b>church</b> & *hall*", "please check"),
        ("press", "✅ Submit", "Send /menu for anything else"),
        ("command", "/prenotify", "What is the engagement called?"),
        ("text", f"{TYPED} talk #{n} at the `village` hall", "What kind of engagement"),
        ("press_first", None, "Which area is it in?"),
        ("press", "Shropshire", "Where is it?"),
        ("text", f"{TYPED} Memorial Hall", "When does it start?"),
        ("press", "Tomorrow", "What time on"),
        ("press", "19:00", "How long will it last?"),
        ("press_first", None, "Roughly how many people"),
        ("text", "30", "exact location"),
        ("press", "Skip ▶", "please check"),
        ("press", "✅ Submit", "Send /menu for anything else"),
        ("stale", None, ""),
        ("text", f"{TYPED} hello there", "Send /menu to see what I can do"),
        ("command", "/frobnicate", "I don't know /frobnicate"),
    ]


async def _act(emu: TelegramEmulator, user: FakeUser, step: Step,
               stale_target: dict[int, Any]) -> None:
    what, arg, expect = step
    if what == "command" or what == "text":
        await user.send_text(arg)
    elif what == "press":
        await user.press(arg)
    elif what == "press_containing":
        await user.press(next(b for b in buttons(user.last_bot_message) if arg in b))
    elif what == "press_first":
        await user.press(buttons(user.last_bot_message)[0])
    elif what == "photo":
        await user.send_photo(small_jpeg(arg))
    elif what == "stale":
        # "◀ Back" under the hours question that was answered long ago: a stale button.
        answered = len(emu.callback_answers)
        await user.press("◀ Back", stale_target[user.id])
        await emu.wait_for(lambda: len(emu.callback_answers) > answered, 10)
        return
    message = await said(user, expect, timeout=20)
    if expect == "How long did you work?":
        stale_target[user.id] = message


def _seen(emu: TelegramEmulator, users: list[FakeUser]) -> dict[int, tuple[int, int]]:
    """Per chat: what the bot did there (messages and edits), and button answers."""
    answers: dict[int, int] = {}
    for answer in emu.callback_answers:
        answers[answer.chat_id] = answers.get(answer.chat_id, 0) + 1
    return {u.id: (len(u.chat.bot_activity), answers.get(u.id, 0)) for u in users}


async def _counts(db: Database) -> dict[str, int]:
    async with db.transaction() as s:
        return {model.__tablename__: await s.scalar(select(func.count()).select_from(model))
                for model in COUNTED}


async def run(db: Database, scheme: Scheme, media_root: Path, *, ambassadors: int,
              progress: Callable[[str], None] | None = None) -> Result:
    """Drive `ambassadors` people through the script (30 updates each, plus 10 knocks at the
    door), re-deliver every update, and count what was doubled or lost."""
    from tests.storage.seed import Cast
    await Cast.create(db, scheme)
    async with db.transaction() as s:
        people = [await person(s, Role.AMBASSADOR, f"Amb {n}", "Shropshire")
                  for n in range(ambassadors)]
        inactive = await person(s, Role.AMBASSADOR, "Gone Away", "Shropshire", active=False)
        for someone in people:
            await engagements.do_prenotify_engagement(
                s, scheme, title="Clun show", kind="Community event", place="Showground",
                starts_at=NOW - dt.timedelta(hours=5), ends_at=NOW - dt.timedelta(hours=2),
                after_the_fact=True, actor=await s.merge(someone), now=NOW)
    processor = PhotoProcessor(MediaStore(media_root), workers=1, executor="thread")
    result = Result()
    try:
        async with TelegramEmulator(token=TOKEN, update_history=10 * (
                ambassadors * UPDATES_PER_AMBASSADOR + 2 * KNOCKS) + 100) as emu:
            bot = await RunningBot(emu, db, scheme, Clock(NOW),
                                   media_intake=telegram_media_intake(processor)).start()
            try:
                await _drive(emu, db, people, inactive, result, progress)
            finally:
                await bot.stop()
    finally:
        await processor.aclose()
    return result


async def _drive(emu: TelegramEmulator, db: Database, people: list[Person], inactive: Person,
                 result: Result, progress: Callable[[str], None] | None) -> None:
    users = [emu.user(p.telegram_id, p.name) for p in people]
    first = (emu.last_update_id or 100_000) + 1
    stale_target: dict[int, Any] = {}

    async def walk(n: int, user: FakeUser) -> None:
        for step in script(n):
            await _act(emu, user, step, stale_target)

    await asyncio.gather(*(walk(n, u) for n, u in enumerate(users)))
    stranger, gone = emu.user(987_654_321, "Mallory"), emu.user(inactive.telegram_id, "Gone")
    for knocker, fragment in ((stranger, "only for the Community Ambassador scheme"),
                              (gone, "not active")):
        for text in ("/start", "/menu", f"{TYPED} let me in", "/start BADCODE", "/help"):
            await knocker.send_text(text)
            await said(knocker, fragment if text != "/start BADCODE" or knocker is gone
                       else "", timeout=20)
    last = emu.last_update_id
    result.updates = last - first + 1
    everyone = users + [stranger, gone]
    await emu.wait_for(lambda: emu.pending_update_count == 0, 30)
    seen_before, rows_before = _seen(emu, everyone), await _counts(db)
    if progress:
        progress(f"{result.updates} updates handled; delivering every one again")

    for update_id in range(first, last + 1):
        emu.redeliver(update_id)
        result.redelivered += 1
    await emu.wait_for(lambda: emu.pending_update_count == 0, 60)
    # A fresh /help from everyone, answered after the redeliveries (one chat's updates are
    # handled in order), proves they were all consumed.
    for user in users:
        await user.send_text("/help")
    for user in users:
        await said(user, "I help you keep", timeout=20)
    seen_after, rows_after = _seen(emu, everyone), await _counts(db)
    for user in everyone:
        (acts, answers), (acts_after, answers_after) = seen_before[user.id], seen_after[user.id]
        barrier = 1 if user in users else 0
        result.duplicate_messages += (acts_after - acts - barrier) + (answers_after - answers)
        if acts_after - acts - barrier and len(result.examples) < 5:
            result.examples += [(m.text or m.caption or m.kind)[:80]
                                for m in user.chat.bot_activity[acts:acts_after]]
    result.duplicate_rows = {t: rows_after[t] - rows_before[t] for t in rows_before
                             if rows_after[t] != rows_before[t]}
    expected = {"hours_entries": len(users), "media": len(users),
                "engagements": 2 * len(users), "form_drafts": 0}
    result.lost = [f"{table}: {rows_after[table]} of {n}" for table, n in expected.items()
                   if rows_after[table] != n]
    async with db.transaction() as s:
        knocks = await s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.outcome == "refused", AuditEvent.action.in_(
                ["telegram_stranger", "telegram_inactive"])))
    if knocks != 2 * KNOCKS:
        result.lost.append(f"refusals audited: {knocks} of {2 * KNOCKS}")
