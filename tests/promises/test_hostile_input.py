"""Hostile input through Telegram and Slack (see tests/promises/hostile.py). A few examples
per field here; PROMISES_EXAMPLES=10000 (or `python -m bench promises`) for the full run."""

from __future__ import annotations

import ast
import importlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storage.models import Engagement, HoursEntry, Role
from tests.handlers.slack.harness import Office
from tests.handlers.slack.test_render import mrkdwn_texts
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, said
from bot.emulators.telegram import TelegramEmulator
from handlers.slack import forms as slack_forms
from handlers.slack import listeners
from tests.promises import hostile
from tests.promises.office_modals import OFFICE_MODALS
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


# A quarter of the fixed cases (NUL inside text, emoji alone, blank lines, markup, a date that
# is right, one too long …): each modal is opened afresh for nearly every example, so all of
# them would make this the slowest test of the suite.
OFFICE_PLAYED = hostile.SPECIAL[3::4] + hostile.draw(EXAMPLES)
# Every text input of the office's modals; a modal or an input added without a way to open
# it in tests/promises/office_modals.py fails one of the two tests below.
OFFICE_FIELDS = {
    "grant_ask.reason", "grant_decline.reason", "grant_deputy.reason", "grant_reject.reason",
    "expense_query.reason", "expense_reject.reason", "invite.name",
    "meeting.title", "meeting.place", "meeting.starts_at", "meeting_notes.notes",
    "meeting_notes.decisions", "meeting_notes.action_1", "meeting_notes.action_2",
    "meeting_notes.action_3", "meeting_notes.action_4", "meeting_move.starts_at",
    "outcome_excerpt.excerpt"}


async def test_every_office_modal_input_answers_hostile_text_with_progress_or_a_sentence(
        office: Office, logs) -> None:
    """The grant and claim reasons, the invite, the meeting (scheduled, its notes, moved) and
    the outcome's excerpt: each input refuses hostile text with a sentence or takes it, and
    what it took is what the record keeps."""
    logs.typed += OFFICE_PLAYED
    tally = await hostile.office_run(office, OFFICE_PLAYED)
    assert tally.failures == {}
    assert {name for name, t in tally.fields.items() if t.examples} == OFFICE_FIELDS
    assert tally.total("refusals") > 0 and tally.total("progress") > 0


def modals_taken() -> set[str]:
    """The callback_id of every modal whose submission the Slack app takes: each
    `app.view(X)` in handlers/slack/listeners/, read from the source and X looked up in its
    module, so that a new modal is found here without being listed."""
    found: set[str] = set()
    for path in sorted(Path(listeners.__file__).parent.glob("*.py")):
        module = importlib.import_module(f"{listeners.__name__}.{path.stem}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "view" and isinstance(node.func.value, ast.Name) and \
                    node.func.value.id == "app":
                found.add(_looked_up(node.args[0], vars(module)))
    return found


def _looked_up(node: ast.expr, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, ast.Attribute):
        return getattr(_looked_up(node.value, names), node.attr)
    if isinstance(node, ast.Constant):
        return node.value
    raise AssertionError(f"app.view({ast.unparse(node)}): not a name this test can look up")


def test_every_modal_the_office_submits_is_in_the_hostile_run() -> None:
    office_modals = modals_taken() - {slack_forms.CALLBACK}
    assert office_modals == {m.callback_id for m in OFFICE_MODALS}


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
