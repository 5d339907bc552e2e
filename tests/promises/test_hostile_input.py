"""Hostile input through Telegram and Slack (see tests/promises/hostile.py). A few examples
per field here; PROMISES_EXAMPLES=10000 (or `python -m bench promises`) for the full run."""

from __future__ import annotations

import os

from sqlalchemy import select

from storage.models import Engagement, HoursEntry, Role
from tests.handlers.slack.harness import Office
from tests.handlers.slack.test_render import mrkdwn_texts
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, said
from bot.emulators.telegram import TelegramEmulator
from tests.promises import hostile
from tests.promises.logs import TYPED
from tests.storage.seed import NOW, Cast

EXAMPLES = int(os.environ.get("PROMISES_EXAMPLES", "4"))
# The fixed edge cases always run, then hypothesis's draws.
PLAYED = hostile.SPECIAL + hostile.draw(EXAMPLES)


async def test_every_telegram_question_answers_hostile_text_with_progress_or_a_sentence(
        db, scheme, logs) -> None:
    await Cast.create(db, scheme)
    examples = hostile.SPECIAL[::6] + hostile.draw(EXAMPLES)
    logs.typed += examples
    tally = await hostile.telegram_run(db, scheme, examples, people=6)
    assert tally.failures == {}
    assert tally.formatting == []
    assert set(tally.fields) == {f"{f}.{n}" for f, n in hostile.telegram_fields()}
    assert all(t.examples == len(examples) for t in tally.fields.values())
    assert tally.total("refusals") > 0 and tally.total("progress") > 0


async def test_every_slack_modal_input_answers_hostile_text_with_progress_or_a_sentence(
        office: Office, logs) -> None:
    logs.typed += PLAYED
    tally = await hostile.slack_run(office, PLAYED)
    assert tally.failures == {}
    typed_fields = {name for name, t in tally.fields.items() if t.examples}
    assert {"hours.minutes", "hours.description", "grant.amount", "prenotify.title",
            "feedback.summary", "expenses.description", "away.until"} - typed_fields <= \
        {"away.until"}  # a date picker: nothing to type
    assert tally.total("refusals") > 0 and tally.total("progress") > 0


INJECTION = (f"{TYPED} <!channel> *loud* _it_ `code` <https://evil.example|click> & </b><i> "
             "'; DROP TABLE engagements; -- \u202eesrever")


async def test_typed_markup_and_sql_are_stored_verbatim_and_shown_as_text(
        office: Office, db, scheme, logs) -> None:
    """An ambassador pre-notifies an engagement whose title is markup and SQL: the database
    holds exactly what was typed, Telegram shows it as plain text (no parse_mode), and the
    office's Slack post shows it escaped — nothing breaks out into formatting or pings."""
    async with TelegramEmulator(token=TOKEN) as emu:
        bot = await RunningBot(emu, db, scheme, Clock(NOW)).start()
        try:
            ann = emu.user(office.cast.ambassador.telegram_id, "Ann")
            await ann.send_command("/prenotify")
            await said(ann, "What is the engagement called?")
            await ann.send_text(INJECTION)
            await said(ann, "What kind of engagement")
            await ann.press(hostile_first(ann))
            await said(ann, "Which area is it in?")
            await ann.press("Shropshire")
            await said(ann, "Where is it?")
            await ann.send_text("Hall & <Annexe>")
            await said(ann, "When does it start?")
            await ann.press("Tomorrow")
            await said(ann, "What time on")
            await ann.press("19:00")
            await said(ann, "How long will it last?")
            await ann.press(hostile_first(ann))
            await said(ann, "Roughly how many people")
            await ann.send_text("30")
            await said(ann, "exact location")
            await ann.press("Skip ▶")
            summary = await said(ann, "please check")
            assert INJECTION in summary.text  # shown as typed, as plain text
            await ann.press("✅ Submit")
            await said(ann, "Send /menu for anything else")
            assert not [c for c in emu.calls if c.params.get("parse_mode")]
        finally:
            await bot.stop()
    async with db.transaction() as s:
        stored = (await s.scalars(select(Engagement).where(
            Engagement.title.like(f"{TYPED}%")))).one()
    assert (stored.title, stored.place) == (INJECTION, "Hall & <Annexe>")
    await office.deliver()
    post = office.last(office.channel("engagements"))
    shown = "\n".join([post.text, *mrkdwn_texts(post.blocks)])  # plain_text is never parsed
    assert "<!channel>" not in shown and "<https://evil" not in shown
    assert "&lt;!channel&gt;" in shown and "&amp; &lt;/b&gt;" in shown
    assert "Hall &amp; &lt;Annexe&gt;" in shown

    # And in Slack: hours with the same text as their description, from the modal.
    ann_slack = office.uid(Role.AMBASSADOR)
    await hostile._open(office.emu, ann_slack, "hours")
    done = await office.emu.submit_view(ann_slack, values={"minutes": "2",
                                                           "description": INJECTION})
    assert done.errors == {}
    async with db.transaction() as s:
        [hours] = (await s.scalars(select(HoursEntry))).all()
    assert hours.description == INJECTION


def hostile_first(user) -> str:
    from tests.handlers.telegram.harness import buttons
    return buttons(user.last_bot_message)[0]
