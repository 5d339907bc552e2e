"""Issue 16 case 8 as the ambassador meets it: real python-telegram-bot against the Bot API
emulator, and the Slack modal through Bolt and the Slack emulator, on SQLite and PostgreSQL.
A start too long ago is refused with the earliest day allowed, the question is asked again
and nothing typed so far is lost."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.emulators.telegram import TelegramEmulator
from storage.models import Engagement, Feedback, FormDraft
from storage.parsers import format_date
from tests.handlers.slack.harness import BOB, running_office
from tests.handlers.slack.test_forms import _delivered, inputs, loaded
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, said
from tests.storage.seed import NOW, Cast


@pytest.fixture
async def emu():
    async with TelegramEmulator(token=TOKEN) as emulator:
        yield emulator


@pytest.fixture
async def cast(db, scheme):
    return await Cast.create(db, scheme)


@pytest.fixture
async def bot(emu, db, scheme, cast):
    running = await RunningBot(emu, db, scheme, Clock(NOW)).start()
    yield running
    await running.stop()


async def draft(db) -> FormDraft:
    async with db.transaction() as s:
        [found] = (await s.scalars(select(FormDraft))).all()
        return found


async def test_a_start_before_the_window_is_refused_and_the_form_waits(emu, bot, db,
                                                                        cast) -> None:
    ann = emu.user(cast.ambassador.telegram_id, "Ann")
    await ann.send_command("/feedback")
    await said(ann, "Which engagement")
    await ann.press("➕ One I didn't pre-notify")
    await said(ann, "called?")
    await ann.send_text("Street surgery")
    await said(ann, "What kind")
    await ann.press("Surgery or drop-in")
    await said(ann, "Where is it?")
    await ann.send_text("Oswestry market")
    await said(ann, "When did it start?")
    for typed, shown in (("01/01/1970 00:00", "Thu 1 Jan 1970, 00:00"),
                         ("25/08/2026 23:59", "Tue 25 Aug 2026, 23:59")):
        await ann.send_text(typed)
        reply = await said(ann, "too long ago")
        assert (f"That's too long ago to report ({shown}): the earliest start I can take is "
                "Wed 26 Aug 2026. Please check the date.") in reply.text
        assert "When did it start?" in reply.text
        state = (await draft(db)).state
        assert state["step"] == "starts_at"
        assert {k: state["answers"].get(k) for k in ("title", "kind", "place")} == {
            "title": "Street surgery", "kind": "Surgery or drop-in",
            "place": "Oswestry market"}
        assert "starts_at" not in state["answers"]
    await ann.send_text("26/08/2026 10:00")                  # the earliest day is taken
    await said(ann, "How long did it last?")
    assert (await draft(db)).state["answers"]["starts_at"].startswith("2026-08-26T09:00")
    async with db.transaction() as s:
        assert (await s.scalars(select(Engagement))).all() == []


async def test_the_slack_modal_refuses_it_on_the_field_with_the_same_sentence(db, scheme,
                                                                               tmp_path) -> None:
    """Bob files feedback from Slack: the same rule, the sentence on the date field, the
    other answers still in the modal and nothing recorded."""
    async for office in running_office(db, scheme):
        emu = office.emu
        await emu.send_dm(BOB, "hello")
        menu = await _delivered(office, BOB, "here is what you can do")
        await emu.click(BOB, menu, "open_form_feedback")
        modal = await loaded(office, BOB)
        await emu.click(BOB, modal, "field_engagement",
                        selected_option="➕ One I didn't pre-notify")
        await emu.wait_for(lambda: "starts_at" in inputs(emu.views(BOB)[-1]))
        answers = {"title": "Kington drop-in", "kind": "Surgery or drop-in",
                   "place": "Kington library", "duration": "2 hours", "attendees": "30",
                   "starts_at": "01/01/1970 00:00", "summary": "Quad bike thefts.",
                   "follow_up_needed": "No follow-up needed", "minutes_spent": "2h"}
        refused = await emu.submit_view(BOB, values=answers)
        earliest = format_date(scheme.earliest_report(dt.datetime.now(dt.UTC))
                               .astimezone(scheme.tz).date())
        assert list(refused.errors) == ["starts_at"]
        assert refused.errors["starts_at"] == (
            "That's too long ago to report (Thu 1 Jan 1970, 00:00): the earliest start I can "
            f"take is {earliest}. Please check the date.")
        assert await office.rows(Engagement) == [] and await office.rows(Feedback) == []
