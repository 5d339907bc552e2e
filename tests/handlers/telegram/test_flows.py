"""Ambassadors' flows end to end: real python-telegram-bot against the Bot API emulator,
records checked in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.emulators.telegram import TelegramEmulator
from storage.models import Engagement, Feedback, FollowUp, FormDraft, GrantRecommendation, \
    HoursEntry, Outbox, Person, ProcessedUpdate
from storage.operations import people
from tests.crash.harness import until
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, buttons, said
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


@pytest.fixture
def ann(emu, cast):
    return emu.user(cast.ambassador.telegram_id, "Ann")


async def _none_left(db, model) -> bool:
    return await rows(db, model) == []


async def rows(db, model, *where):
    async with db.transaction() as s:
        return (await s.scalars(select(model).where(*where))).all()


async def test_an_unknown_person_gets_one_polite_sentence_and_nothing_else(emu, bot) -> None:
    stranger = emu.user(42, "Mallory")
    for text in ("/start", "/menu", "hello", "/start wrongcode"):
        await stranger.send_text(text)
    await said(stranger, "isn't recognised")
    replies = [m.text for m in stranger.bot_messages()]
    assert replies[:3] == ["Sorry, this bot is only for the Community Ambassador scheme. If "
                           "you've been invited, please open the link the office sent you."] * 3
    assert all(not m.buttons for m in stranger.bot_messages())


async def test_invite_link_links_the_account_and_shows_the_menu(emu, bot, db, scheme,
                                                                cast) -> None:
    async with db.transaction() as s:
        invite = await people.do_create_invite(s, scheme, name="Wendy Worcester",
                                               role="ambassador", area="Worcestershire",
                                               actor=await s.merge(cast.officer), now=NOW)
    wendy = emu.user(777, "Wendy")
    await wendy.send_command(f"/start {invite.code}")
    welcome = await said(wendy, "Welcome, Wendy Worcester")
    assert "📅 Pre-notify an engagement" in buttons(welcome)
    [person] = await rows(db, Person, Person.telegram_id == 777)
    assert person.roles == ["ambassador"]
    other = emu.user(778, "Eve")
    await other.send_command(f"/start {invite.code}")
    await said(other, "already been used")


async def test_prenotify_with_buttons_typed_date_back_skip_and_edit(emu, bot, ann, db) -> None:
    await ann.send_command("/prenotify")
    await said(ann, "What is the engagement called?")
    await ann.send_text("Much Wenlock parish council")
    await said(ann, "What kind of engagement")
    await ann.press("Parish council meeting")
    area = await said(ann, "Which area is it in?")
    assert buttons(area)[0] == "Shropshire"  # her own area first
    await ann.press("◀ Back")
    await said(ann, "What kind of engagement")
    await ann.press("Parish council meeting")
    await said(ann, "Which area")
    await ann.press("Shropshire")
    await said(ann, "Where is it?")
    await ann.send_text("Memorial Hall")
    await said(ann, "When does it start?")
    await ann.send_text("yesterday 7pm")
    await said(ann, "already passed")
    await ann.send_text("tomorrow 7pm")
    asked = await said(ann, "How long will it last?")
    # What was understood is read back at once, not only in the summary at the end.
    assert "Wed 25 Nov 2026, 19:00 — next: How long will it last?" in asked.text
    await ann.press("2 hours")
    asked = await said(ann, "Roughly how many people")
    assert "— next:" not in asked.text  # a tapped answer needs no reading back
    await ann.send_text("about a dozen")
    refused = await said(ann, "Roughly how many people")
    assert refused.text.startswith("⚠️")
    await ann.send_text("30")
    await said(ann, "exact location")
    await ann.press("Skip ▶")
    summary = await said(ann, "please check")
    assert "• Starts: Wed 25 Nov 2026, 19:00" in summary.text
    assert "• Expected audience: 30" in summary.text
    await ann.press("✏️ Edit")
    await said(ann, "Which answer would you like to change?")
    await ann.press("Place")
    await said(ann, "Where is it?")
    await ann.send_text("Village Hall, Much Wenlock")
    summary = await said(ann, "please check")
    assert "• Place: Village Hall, Much Wenlock" in summary.text
    await ann.press("✅ Submit")
    await said(ann, "the office knows about “Much Wenlock parish council”")
    [e] = await rows(db, Engagement)
    assert (e.title, e.place, e.kind, e.area.name, e.expected_audience) == (
        "Much Wenlock parish council", "Village Hall, Much Wenlock", "Parish council meeting",
        "Shropshire", 30)
    assert e.starts_at == dt.datetime(2026, 11, 25, 19, 0, tzinfo=dt.UTC)
    assert e.ends_at - e.starts_at == dt.timedelta(hours=2)
    # The draft goes once the thank-you has been sent (it is the backstop until then).
    await until(lambda: _none_left(db, FormDraft), 5, "the draft to be closed")
    [post] = await rows(db, Outbox)
    assert post.destination == "#ambassador-engagements"


async def test_date_picker_buttons(emu, bot, ann, db) -> None:
    await ann.send_command("/prenotify")
    await said(ann, "called?")
    await ann.send_text("Youth club visit")
    await said(ann, "What kind")
    await ann.press("School or youth group")
    await said(ann, "Which area")
    await ann.press("Shropshire")
    await said(ann, "Where is it?")
    await ann.send_text("Ludlow")
    await said(ann, "When does it start?")
    await ann.press("Tomorrow")
    await said(ann, "What time on Wed 25 Nov?")
    await ann.press("18:00")
    await said(ann, "How long")
    await ann.press("1 hour")
    await said(ann, "Roughly how many")
    await ann.press("Skip ▶")
    await said(ann, "exact location")
    await ann.send_location(52.367, -2.718)
    summary = await said(ann, "please check")
    assert "• Starts: Wed 25 Nov 2026, 18:00" in summary.text
    await ann.press("✅ Submit")
    await said(ann, "the office knows")
    [e] = await rows(db, Engagement)
    assert (e.latitude, e.longitude) == (52.37, -2.72)  # stored coarsely


async def test_bad_input_gets_a_sentence_and_the_question_again(emu, bot, ann, db) -> None:
    await ann.send_command("/prenotify")
    await said(ann, "called?")
    await ann.send_sticker()
    reply = await said(ann, "I can't use a sticker here")
    assert "What is the engagement called?" in reply.text
    await ann.send_text("x" * 10_000)
    await said(ann, "10,000")
    await ann.send_text("   ")
    await said(ann, "What is the engagement called?")
    await ann.send_voice()
    await said(ann, "voice note")
    assert await rows(db, Engagement) == []
    [draft] = await rows(db, FormDraft)
    assert draft.state["step"] == "title"


async def test_grant_over_the_cap_is_refused_with_the_reason(emu, bot, ann, db) -> None:
    await ann.send_command("/grant")
    asked = await said(ann, "Which organisation")
    assert "Up to 200 characters." in asked.text
    await ann.send_text("👍")
    await said(ann, "Please type your organisation in words")
    await ann.send_text("Ludlow Youth Club")
    await said(ann, "Who is their contact")
    for typed, reason in (("👍", "Please type your contact in words"),
                          ("Sam Jones", "Please include a phone number"),
                          ("Sam, room 101", "Please include a phone number")):
        await ann.send_text(typed)
        await said(ann, reason)
    await ann.send_text("Sam Jones, 01584 000000")
    await said(ann, "What is the project")
    await ann.send_text("Summer boxing sessions for 12–16 year olds")
    asked = await said(ann, "How much")
    assert "(up to £1,000)" in asked.text
    for typed, reason in (("-5", "negative"), ("1k", "£"),
                          ("£1,000.50", "£1,000.50 is over the £1,000 limit for a grant")):
        await ann.send_text(typed)
        await said(ann, reason)
    await ann.send_text("£750")
    asked = await said(ann, "Which objectives")
    assert asked.text.startswith("£750 — next: Which objectives")
    await ann.press("Done ✔")
    await said(ann, "Please tick at least one")
    await ann.press("▫️ Reassuring West Mercia's communities")
    ticked = await said(ann, "Which objectives")
    assert "✅ Reassuring West Mercia's communities" in buttons(ticked)
    await ann.press("Done ✔")
    await said(ann, "Did you come across it")
    await ann.press("Skip ▶")
    summary = await said(ann, "please check")
    assert "• Amount: £750" in summary.text
    await ann.press("✅ Submit")
    await said(ann, "your recommendation of £750 for Ludlow Youth Club")
    [grant] = await rows(db, GrantRecommendation)
    assert grant.amount_pence == 75_000 and grant.status == "recommended"


async def test_feedback_urgent_for_an_engagement_not_prenotified(emu, bot, ann, db) -> None:
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
    await ann.send_text("40")
    await said(ann, "Which groups")
    await ann.press("▫️ Older people")
    await said(ann, "Which groups")
    await ann.press("Done ✔")
    await said(ann, "Which topics")
    await ann.press("▫️ Drugs")
    await said(ann, "Which topics")
    await ann.press("Done ✔")
    await said(ann, "write a summary")
    await ann.send_text("Residents worried about dealing near the bus station.")
    await said(ann, "What came of it")
    await ann.press("Skip ▶")
    await said(ann, "follow anything up")
    await ann.press("Police or a partner")
    await said(ann, "What needs following up")
    await ann.send_text("Pass the report of dealing to the neighbourhood team today.")
    await said(ann, "How urgent")
    await ann.press("Urgent")
    await said(ann, "How long did you spend")
    await ann.send_text("2h30")
    await said(ann, "please check")
    await ann.press("✅ Submit")
    await said(ann, "flagged as urgent")
    [fb] = await rows(db, Feedback)
    assert (fb.attendees, fb.urgency, fb.minutes_spent) == (40, "urgent", 150)
    [follow_up] = await rows(db, FollowUp)
    assert follow_up.needed_by == "police_or_partner"
    alerts = await rows(db, Outbox, Outbox.destination == "#ambassador-alerts")
    assert len(alerts) == 1


async def test_hours_from_a_day_button(emu, bot, ann, db) -> None:
    await ann.send_command("/hours")
    await said(ann, "Which day?")
    await ann.press("Yesterday")
    await said(ann, "How long did you work?")
    await ann.send_text("1h30")
    await said(ann, "What did you do?")
    await ann.send_text("Prepared for the parish council")
    await said(ann, "please check")
    await ann.press("✅ Submit")
    await said(ann, "Logged 1h30. This month: 1.5 of your 40 hours.")
    [entry] = await rows(db, HoursEntry)
    assert entry.worked_on == dt.date(2026, 11, 23)


async def test_draft_survives_a_restart_and_resumes(emu, bot, ann, db) -> None:
    await ann.send_command("/grant")
    await said(ann, "Which organisation")
    await ann.send_text("Bishop's Castle Scouts")
    await said(ann, "Who is their contact")
    await bot.restart()
    await ann.send_command("/menu")
    resume = await said(ann, "unfinished recommend a grant")
    assert buttons(resume) == ["▶ Carry on", "✖ Discard it"]
    await ann.press("▶ Carry on")
    await said(ann, "Who is their contact")
    await ann.send_text("Jo, 07700 900000")
    await said(ann, "What is the project")


async def test_old_buttons_cancel_and_two_forms(emu, bot, ann, db) -> None:
    await ann.send_command("/prenotify")
    await said(ann, "called?")
    await ann.send_text("Fete")
    kinds = await said(ann, "What kind")
    await ann.send_text("community event")  # typed, so that question keeps its buttons
    await said(ann, "Which area")
    await ann.press("Other", kinds)  # a button on an earlier question
    await emu.wait_for(lambda: emu.callback_answers, 5)
    assert "moved on" in ann.emulator.callback_answers[-1].text
    await ann.send_command("/hours")
    await said(ann, "Which day?")
    assert ann.bot_messages()[-2].text.startswith(
        "(I've put aside your unfinished pre-notification, 2 answers kept — /prenotify carries "
        "on with it.)")
    await ann.send_command("/cancel")   # the form she is in; the one put aside stays
    await said(ann, "Cancelled — nothing was sent.")
    [kept] = await rows(db, FormDraft)
    assert (kept.form, kept.active) == ("prenotify", False)
    await ann.send_command("/prenotify")
    await said(ann, "Carry on with your pre-notification? (2 answers kept)")
    await ann.press("↺ Start again")
    await said(ann, "called?")
    [fresh] = await rows(db, FormDraft)
    assert (fresh.form, fresh.active, fresh.state["answers"]) == ("prenotify", True, {})


async def test_same_update_twice_is_handled_once(emu, bot, ann, db) -> None:
    await ann.send_command("/hours")
    await said(ann, "Which day?")
    await ann.press("Today")
    await said(ann, "How long did you work?")
    await ann.send_text("2")
    await said(ann, "What did you do?")
    await ann.press("Skip ▶")
    await said(ann, "please check")
    await ann.press("✅ Submit")
    await said(ann, "Logged 2h")
    emu.redeliver(emu.last_update_id)
    await ann.send_command("/help")
    await said(ann, "I help you keep the office up to date")
    assert len(await rows(db, HoursEntry)) == 1
    assert sum("Logged" in (m.text or "") for m in ann.bot_messages()) == 1


async def test_group_messages_get_one_sentence(emu, bot, ann) -> None:
    await ann.send_text("/menu", chat_type="group")
    await emu.wait_for(lambda: any(m.from_bot for m in emu.transcript(-4_000_000_001)), 5)
    assert [m.text for m in emu.bot_messages(-4_000_000_001)] == [
        "Please talk to me privately — open a chat with me directly. I don't work in groups."]


async def test_deactivated_mid_form(emu, bot, ann, db, cast) -> None:
    await ann.send_command("/hours")
    await said(ann, "Which day?")
    async with db.transaction() as s:
        await people.do_deactivate_person(s, person_id=cast.ambassador.id,
                                          actor=await s.merge(cast.officer))
    await ann.press("Today")
    await said(ann, "Your account is not active")
    assert await rows(db, HoursEntry) == []


async def test_edited_message_is_explained(emu, bot, ann) -> None:
    sent = await ann.send_text("hello")
    await said(ann, "/menu")
    await ann.edit_text(sent, "hello again")
    await said(ann, "Edits aren't picked up")


async def test_mine_lists_records_and_away_pauses(emu, bot, ann, db, scheme, cast) -> None:
    from storage.operations import engagements, grants
    async with db.transaction() as s:
        me = await s.merge(cast.ambassador)
        await engagements.do_prenotify_engagement(
            s, scheme, title="Craven Arms surgery", kind="Surgery or drop-in", place="Library",
            starts_at=NOW + dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=1, hours=1),
            actor=me, now=NOW)
        await engagements.do_prenotify_engagement(
            s, scheme, title="Clun show", kind="Community event", place="Showground",
            starts_at=NOW - dt.timedelta(days=2), ends_at=NOW - dt.timedelta(days=2, hours=-3),
            after_the_fact=True, actor=me, now=NOW)
        await grants.do_recommend_grant(
            s, scheme, applicant_organisation="Clun Youth", applicant_contact="Jo, 07700 900321",
            project="Football", amount_pence=50_000, objectives=[scheme.plan_objectives[0]],
            actor=me, now=NOW)
    await ann.send_command("/mine")
    mine = await said(ann, "Your records")
    assert "Craven Arms surgery" in mine.text
    assert "• Clun show" in mine.text.split("Feedback due:")[1]
    assert "£500 to Clun Youth: recommended (waiting for the commissioning team)" in mine.text
    assert "Hours this month: 0.0 of 40" in mine.text
    assert buttons(mine) == ["✏️ Correct: Craven Arms surgery", "📝 File feedback now"]
    await ann.send_command("/away")
    await said(ann, "When are you back?")
    await ann.send_text("01/12")
    await said(ann, "please check")
    await ann.press("✅ Submit")
    await said(ann, "I won't send reminders until Tuesday 01 December")
    [person] = await rows(db, Person, Person.id == cast.ambassador.id)
    assert person.away_until == dt.date(2026, 12, 1)


async def test_correct_a_planned_engagement_from_mine(emu, bot, ann, db, scheme, cast) -> None:
    from storage.models import AuditEvent
    from storage.operations import engagements
    async with db.transaction() as s:
        await engagements.do_prenotify_engagement(
            s, scheme, title="Craven Arms surgery", kind="Surgery or drop-in", place="Library",
            starts_at=NOW + dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=1, hours=1),
            actor=await s.merge(cast.ambassador), now=NOW)
    await ann.send_command("/mine")
    await said(ann, "Your records")
    await ann.press("✏️ Correct: Craven Arms surgery")
    summary = await said(ann, "Correct an engagement — please check")
    assert "• Length: 1 hour" in summary.text
    await ann.press("✏️ Edit")
    await said(ann, "Which answer")
    await ann.press("Place")
    await said(ann, "Where is it?")
    await ann.send_text("Community Centre")
    await said(ann, "please check")
    await ann.press("✅ Submit")
    await said(ann, "is updated and the office has been told")
    [e] = await rows(db, Engagement)
    assert e.place == "Community Centre"
    [edit] = await rows(db, AuditEvent, AuditEvent.action == "edit_engagement")
    assert edit.before == {"place": "Library"} and edit.after == {"place": "Community Centre"}


async def test_a_stale_draft_expires(emu, bot, ann, db, scheme) -> None:
    await ann.send_command("/grant")
    await said(ann, "Which organisation")
    await ann.send_text("Bishop's Castle Scouts")
    await said(ann, "Who is their contact")
    bot.clock.now = NOW + dt.timedelta(days=scheme.limits.draft_expiry_days, minutes=1)
    await ann.send_command("/menu")
    menu = await said(ann, "What would you like to do?")
    assert "📅 Pre-notify an engagement" in buttons(menu)
    assert await rows(db, FormDraft) == []
