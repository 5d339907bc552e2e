"""What the schedules ask ambassadors, end to end: a meeting reminder goes out through the real
dispatcher with RSVP buttons, and a tap (Telegram or Slack) records the answer; the weekly
catch-up question is answered by just replying, and the answer reaches the engagements channel.
Real python-telegram-bot, slack_sdk and slack-bolt against the emulators, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client import CollectorRegistry
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from telegram import Bot

from bot.emulators.slack import SlackEmulator
from bot.emulators.telegram import TelegramEmulator
from scheduler.dispatcher import Dispatcher, SlackSender, TelegramSender
from scheduler.jobs import JobContext, hourly_reminders, weekly_catch_up
from storage.models import AuditEvent, Meeting, MeetingRsvp, Outbox, utcnow
from storage.operations import meetings, people
from tests.handlers.slack.harness import BOB, running_office
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, buttons, said
from tests.storage.seed import NOW, Cast

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
SLACK_TOKEN = "xoxb-rsvp-test"
YES, MAYBE, NO = "✅ Yes, I'll come", "🤔 Maybe", "❌ Can't make it"


class Line:
    """The bot answering on Telegram, and a dispatcher delivering to both emulators."""

    def __init__(self, db, scheme, cast, tg, slack, bot: RunningBot) -> None:
        self.db, self.scheme, self.cast, self.tg, self.slack = db, scheme, cast, tg, slack
        self.running = bot
        self.sender_bot = Bot(TOKEN, base_url=tg.base_url)
        self.client = AsyncWebClient(token=SLACK_TOKEN, base_url=slack.api_base_url,
                                     retry_handlers=[])
        self.dispatcher = Dispatcher(
            db, scheme, {"telegram": TelegramSender(self.sender_bot),
                         "slack": SlackSender(self.client)},
            registry=CollectorRegistry(), backoff_base=0.02, backoff_cap=0.2)

    async def deliver(self) -> None:
        await self.dispatcher.drain(timeout=10)

    async def rows(self, model, *where):
        async with self.db.transaction() as s:
            order = getattr(model, "id", None)
            query = select(model).where(*where)
            if order is not None:
                query = query.order_by(order)
            return list((await s.scalars(query)).all())


@pytest.fixture
async def line(db, scheme):
    cast = await Cast.create(db, scheme)
    async with TelegramEmulator(token=TOKEN) as tg, \
            SlackEmulator(bot_token=SLACK_TOKEN, signing_secret="s") as slack:
        for key in ("engagements", "alerts"):
            slack.add_channel(getattr(scheme.channels, key))
        tg.user(cast.ambassador.telegram_id, "Ann")
        tg.user(cast.other_ambassador.telegram_id, "Bob")
        running = await RunningBot(tg, db, scheme, Clock(NOW)).start()
        made = Line(db, scheme, cast, tg, slack, running)
        try:
            yield made
        finally:
            await running.stop()
            await made.sender_bot.shutdown()
            if made.client.session:
                await made.client.session.close()


async def add_meeting(db, cast, starts_at: dt.datetime, kind: str = "quarterly") -> int:
    async with db.transaction() as s:
        meeting = Meeting(kind=kind, title="Quarterly ambassadors' meeting", place="Hindlip",
                          starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=2),
                          created_by_id=cast.officer.id)
        s.add(meeting)
        await s.flush()
        return meeting.id


async def test_a_reminder_carries_rsvp_buttons_and_a_tap_records_the_answer(line) -> None:
    db, scheme, cast = line.db, line.scheme, line.cast
    meeting_id = await add_meeting(db, cast, NOW + dt.timedelta(days=6, hours=22))
    ann = line.tg.user(cast.ambassador.telegram_id, "Ann")

    assert await hourly_reminders(JobContext(db, scheme, NOW)) == 2    # Ann and Bob
    await line.deliver()
    reminder = ann.last_bot_message
    assert reminder.text.startswith("Reminder: Quarterly ambassadors' meeting is next week")
    assert buttons(reminder) == [YES, MAYBE, NO]

    await ann.press(MAYBE, reminder)
    closed = await said(ann, "→ You said: maybe")
    assert closed.message_id == reminder.message_id and not closed.buttons
    [rsvp] = await line.rows(MeetingRsvp)
    assert (rsvp.meeting_id, rsvp.person_id, rsvp.answer) == (meeting_id, cast.ambassador.id,
                                                              "maybe")
    [audit] = await line.rows(AuditEvent, AuditEvent.action == "rsvp")
    assert audit.actor_id == cast.ambassador.id and audit.after == {"answer": "maybe"}

    # The day before: the answer so far is shown and marked, and can be changed with a tap.
    day_before = NOW + dt.timedelta(days=6)
    assert await hourly_reminders(JobContext(db, scheme, day_before)) == 2
    await line.deliver()
    again = ann.last_bot_message
    assert again.message_id != reminder.message_id
    assert "tomorrow" in again.text and "You said you'd come (maybe)" in again.text
    assert buttons(again) == [YES, "• " + MAYBE, NO]
    await ann.press(YES, again)
    await said(ann, "→ You said: yes")
    [rsvp] = await line.rows(MeetingRsvp)
    assert rsvp.answer == "yes"


async def test_a_meeting_invitation_on_telegram_has_the_same_buttons(line) -> None:
    db, scheme, cast = line.db, line.scheme, line.cast
    async with db.transaction() as s:
        meeting = await meetings.do_schedule_meeting(
            s, scheme, kind="catch_up", title="Weekly catch-up call", place="Teams",
            starts_at=utcnow() + dt.timedelta(days=2),
            ends_at=utcnow() + dt.timedelta(days=2, hours=1),
            actor=await people.get_person(s, cast.officer.id))
        meeting_id = meeting.id
    await line.deliver()
    bob = line.tg.user(cast.other_ambassador.telegram_id, "Bob")
    invitation = bob.last_bot_message
    assert invitation.text.startswith("Weekly catch-up call:")
    assert buttons(invitation) == [YES, MAYBE, NO]
    line.running.clock.now = utcnow()
    await bob.press(NO, invitation)
    await said(bob, "→ You said: no")
    [rsvp] = await line.rows(MeetingRsvp)
    assert (rsvp.meeting_id, rsvp.person_id, rsvp.answer) == (meeting_id,
                                                              cast.other_ambassador.id, "no")

    # A button of a meeting cancelled since changes nothing and says why.
    async with db.transaction() as s:
        await meetings.do_cancel_meeting(s, scheme, meeting_id=meeting_id,
                                         actor=await people.get_person(s, cast.officer.id))
    ann = line.tg.user(cast.ambassador.telegram_id, "Ann")
    await ann.press(YES, ann.bot_messages()[0])
    answer = await line.tg.wait_for(lambda: [a for a in line.tg.callback_answers
                                             if "cancelled" in (a.text or "")])
    assert answer[-1].show_alert
    assert len(await line.rows(MeetingRsvp)) == 1


async def test_the_catch_up_question_is_answered_by_replying(line) -> None:
    db, scheme, cast = line.db, line.scheme, line.cast
    ann = line.tg.user(cast.ambassador.telegram_id, "Ann")
    engagements = scheme.channels.engagements

    # Nothing asked yet: a stray message is not taken for an answer.
    await ann.send_text("hello?")
    await said(ann, "Send /menu to see what I can do.")

    assert await weekly_catch_up(JobContext(db, scheme, NOW)) == 2
    await line.deliver()
    question = ann.last_bot_message
    assert question.text.startswith("Weekly catch-up: is there anything the office should know?")

    await ann.send_text("Parish council in Clun asked for more patrols near the school.")
    await said(ann, "passed that to the engagement team")
    await line.deliver()
    [post] = line.slack.messages(engagements)
    assert post.text == ("Catch-up from Ann Shropshire (Shropshire), week 2026-W48: Parish "
                         "council in Clun asked for more patrols near the school.")
    [audit] = await line.rows(AuditEvent, AuditEvent.action == "answer_catch_up")
    assert audit.actor_id == cast.ambassador.id

    # Answered: the next stray message is not posted to the office ...
    await ann.send_text("thanks")
    await said(ann, "Send /menu to see what I can do.")
    # ... but a reply to the question itself is.
    await ann.send_text("One more thing: the Bishop's Castle show is on the 3rd.",
                        reply_to=question)
    await said(ann, "passed that to the engagement team")
    await line.deliver()
    assert [m.text.split(": ", 1)[1] for m in line.slack.messages(engagements)] == [
        "Parish council in Clun asked for more patrols near the school.",
        "One more thing: the Bishop's Castle show is on the 3rd."]
    rows = await line.rows(Outbox, Outbox.event == "catch_up_answer")
    assert [r.status for r in rows] == ["sent", "sent"]

    # Too long an answer is refused with the reason, and nothing is posted.
    await weekly_catch_up(JobContext(db, scheme, NOW + dt.timedelta(days=7)))
    line.running.clock.now = NOW + dt.timedelta(days=7)
    await line.deliver()
    await ann.send_text("x" * (scheme.limits.max_text_chars + 1))
    await said(ann, "Please shorten it.")
    assert len(await line.rows(Outbox, Outbox.event == "catch_up_answer")) == 2


async def test_a_slack_ambassador_answers_a_reminder_with_its_buttons(db, scheme,
                                                                      tmp_path) -> None:
    """Bob is on Slack only: his reminder comes to his DM with the RSVP buttons, and the
    office's Slack app records his click."""
    async for office in running_office(db, scheme, chart_dir=tmp_path / "charts"):
        now = utcnow()
        meeting_id = await add_meeting(db, office.cast, now + dt.timedelta(days=3))
        await hourly_reminders(JobContext(db, scheme, now))
        await office.deliver()
        reminder = office.last(BOB)
        assert reminder.text.startswith("Reminder: Quarterly ambassadors' meeting is next week")
        assert [b.text for b in office.emu.buttons(reminder)] == [YES, MAYBE, NO]
        await office.emu.click(BOB, reminder, "meeting_rsvp_maybe")
        await office.ephemeral(BOB, "noted your answer: maybe")
        [rsvp] = await office.rows(MeetingRsvp)
        assert (rsvp.meeting_id, rsvp.person_id, rsvp.answer) == (
            meeting_id, office.cast.other_ambassador.id, "maybe")
