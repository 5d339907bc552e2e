"""Nothing a person typed is thrown away behind their back, and nobody is left untold: a form
put aside is kept and offered again (issue 16 case 5); a form sent whose thank-you never
reached the person answers "Already sent" when Submit comes again (case 6). Real
python-telegram-bot against the Bot API emulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.emulators.telegram import TelegramEmulator
from storage.models import Engagement, Feedback, FormDraft, Outbox
from tests.crash.harness import until
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, buttons, said
from tests.storage.seed import NOW, Cast


@pytest.fixture
async def emu():
    async with TelegramEmulator(token=TOKEN) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu, db, scheme):
    await Cast.create(db, scheme)
    running = await RunningBot(emu, db, scheme, Clock(NOW)).start()
    yield running
    await running.stop()


@pytest.fixture
async def ann(emu, db, bot):
    async with db.transaction() as s:
        from storage.models import Person
        person = await s.scalar(select(Person).where(Person.name == "Ann Shropshire"))
    return emu.user(person.telegram_id, "Ann")


async def _none_left(db, model) -> bool:
    return await rows(db, model) == []


async def rows(db, model, *where):
    async with db.transaction() as s:
        return (await s.scalars(select(model).where(*where).order_by(model.id))).all()


async def six_feedback_answers(ann) -> None:
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
    await ann.send_text("today 10am")
    await said(ann, "How long did it last?")
    await ann.press("2 hours")
    await said(ann, "How many people")


async def finish_feedback(ann) -> None:
    await ann.send_text("40")
    await said(ann, "Which groups")
    await ann.press("Done ✔")
    await said(ann, "Which topics")
    await ann.press("Done ✔")
    await said(ann, "write a summary")
    await ann.send_text("Residents worried about dealing near the bus station.")
    await said(ann, "What came of it")
    await ann.press("Skip ▶")
    await said(ann, "follow anything up")
    await ann.press("No follow-up needed")
    await said(ann, "How long did you spend")
    await ann.press("Skip ▶")
    await said(ann, "please check")


async def prenotify(ann) -> None:
    await ann.send_text("Fete")
    await said(ann, "What kind")
    await ann.press("Community event")
    await said(ann, "Which area")
    await ann.press("Shropshire")
    await said(ann, "Where is it?")
    await ann.send_text("Memorial Hall")
    await said(ann, "When does it start?")
    await ann.send_text("tomorrow 7pm")
    await said(ann, "How long will it last?")
    await ann.press("2 hours")
    await said(ann, "Roughly how many people")
    await ann.press("Skip ▶")
    await said(ann, "exact location")
    await ann.press("Skip ▶")
    await said(ann, "please check")
    await ann.press("✅ Submit")
    await said(ann, "the office knows about “Fete”")


@pytest.mark.parametrize("then", ["submit", "cancel"])
async def test_a_form_put_aside_is_kept_and_offered_again(then, emu, db, ann) -> None:
    await six_feedback_answers(ann)
    await ann.send_command("/prenotify")
    await said(ann, "called?")
    note = ann.bot_messages()[-2].text
    assert note.startswith("(I've put aside your unfinished feedback, 6 answers kept — "
                           "/feedback carries on with it.)")
    if then == "submit":
        await prenotify(ann)
    else:
        await ann.send_command("/cancel")
        await said(ann, "Cancelled — nothing was sent.")
    await ann.send_command("/menu")
    menu = await said(ann, "What would you like to do?")
    assert "(Kept for later: your feedback, 6 answers kept.)" in menu.text
    await ann.send_command("/feedback")
    offer = await said(ann, "Carry on with your feedback? (6 answers kept)")
    assert buttons(offer) == ["▶ Carry on", "↺ Start again"]
    await ann.press("▶ Carry on")
    await said(ann, "How many people")
    await finish_feedback(ann)
    summary = ann.last_bot_message.text
    for kept in ("• Title: Street surgery", "• Kind: Surgery or drop-in",
                 "• Place: Oswestry market", "• Length: 2 hours"):
        assert kept in summary
    await ann.press("✅ Submit")
    await said(ann, "your feedback is filed")
    [fb] = await rows(db, Feedback)
    assert fb.attendees == 40
    titles = sorted(e.title for e in await rows(db, Engagement))
    assert titles == (["Fete", "Street surgery"] if then == "submit" else ["Street surgery"])
    await until(lambda: _none(db, FormDraft), 5, "the draft gone once she was told")
    assert "put aside" not in " ".join(m.text or "" for m in ann.bot_messages()[-12:])


async def test_start_again_replaces_the_kept_form_and_nothing_else_is_said_to_be_kept(
        emu, db, ann) -> None:
    await six_feedback_answers(ann)
    await ann.send_command("/feedback")
    await said(ann, "Carry on with your feedback? (6 answers kept)")
    await ann.press("↺ Start again")
    await said(ann, "Which engagement")
    assert "Starting again from the beginning" in ann.bot_messages()[-2].text
    [draft] = await rows(db, FormDraft)
    assert (draft.form, draft.active, draft.state["answers"]) == ("feedback", True, {})
    # A form with no answers yet is not "put aside": there is nothing in it to keep.
    await ann.send_command("/hours")
    await said(ann, "Which day?")
    assert "put aside" not in ann.bot_messages()[-2].text
    assert [(d.form, d.active) for d in await rows(db, FormDraft)] == [("hours", True)]


async def test_a_thank_you_that_never_arrived_is_answered_already_sent(emu, db, ann) -> None:
    """The record is committed, then the thank-you fails: a second press of Submit says
    "Already sent" with what was sent — not "an earlier question" — and sends nothing twice."""
    await six_feedback_answers(ann)
    await finish_feedback(ann)
    summary = ann.last_bot_message
    emu.faults.blocked("editMessageText")   # refused at once, never retried
    await ann.press("✅ Submit", summary)
    await until(lambda: any(c.status == 403 for c in emu.calls))
    await until(lambda: rows(db, Feedback))
    [fb] = await rows(db, Feedback)
    assert "Thank you" not in ann.last_bot_message.text
    [notice] = await rows(db, Outbox, Outbox.event == "form_submitted")
    assert notice.status == "pending" and notice.payload["text"].startswith(
        "✅ Sent to the office — your feedback:")
    await ann.press("✅ Submit", summary)
    told = await said(ann, "✅ Already sent to the office — your feedback:")
    assert "• Title: Street surgery" in told.text and "• People reached: 40" in told.text
    assert [f.id for f in await rows(db, Feedback)] == [fb.id]     # not sent twice
    await until(lambda: _none_left(db, FormDraft), 5, "the draft to be closed")
    assert await rows(db, Outbox, Outbox.event == "form_submitted") == []   # told once
    await ann.press("✅ Submit", summary)   # a third press: the form is long gone
    await emu.wait_for(lambda: "moved on" in (emu.callback_answers[-1].text or ""), 5)


async def test_a_thank_you_sent_leaves_no_notice_behind(emu, db, ann) -> None:
    await six_feedback_answers(ann)
    await finish_feedback(ann)
    await ann.press("✅ Submit")
    await said(ann, "your feedback is filed")
    await until(lambda: _none(db, Outbox, Outbox.event == "form_submitted"), 5,
                "the notice withdrawn")
    await until(lambda: _none(db, FormDraft), 5, "the draft gone")
    assert [f.attendees for f in await rows(db, Feedback)] == [40]


async def _none(db, model, *where) -> bool:
    return not await rows(db, model, *where)
