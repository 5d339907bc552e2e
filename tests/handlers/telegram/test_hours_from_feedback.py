"""Time given with feedback, from the phone: /mine shows it as the engagement's hours entry
and "⏱ Change time" corrects that one entry (never a second one)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.emulators.telegram import TelegramEmulator
from storage.models import HoursEntry
from storage.operations import engagements, feedback
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, buttons, said
from tests.storage.seed import NOW, Cast


async def test_time_given_with_feedback_is_changed_from_mine(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    async with db.transaction() as s:
        ann = await s.merge(cast.ambassador)
        held = await engagements.do_prenotify_engagement(
            s, scheme, title="Clun show", kind="Community event", place="Showground",
            starts_at=NOW - dt.timedelta(days=2), ends_at=NOW - dt.timedelta(days=2, hours=-3),
            after_the_fact=True, actor=ann, now=NOW)
        await feedback.do_file_feedback(s, scheme, engagement_id=held.id, attendees=30,
                                        summary="Busy stall", minutes_spent=240, actor=ann,
                                        now=NOW)
    async with TelegramEmulator(token=TOKEN) as emu:
        bot = await RunningBot(emu, db, scheme, Clock(NOW)).start()
        try:
            phone = emu.user(cast.ambassador.telegram_id, "Ann")
            await phone.send_command("/mine")
            mine = await said(phone, "Hours this month: 4.0 of 40")
            assert "4h" in mine.text and "Clun show" in mine.text
            await phone.press(next(b for b in buttons(mine) if b.startswith("⏱ Change time")))
            await said(phone, "How long did you give, including travel?")
            await phone.send_text("25 hours")
            await said(phone, "How long did you give")
            await phone.send_text("3h30")
            await said(phone, "please check")
            await phone.press("✅ Submit")
            await said(phone, "that time is now 3h30")
        finally:
            await bot.stop()
    async with db.transaction() as s:
        entries = (await s.scalars(select(HoursEntry))).all()
    assert [(e.minutes, e.engagement_id) for e in entries] == [(210, held.id)]
