"""Publishable outcome excerpts from Slack (issue 20): the feedback's post in the engagements
channel carries "Mark an excerpt publishable"; the officer edits the ambassador's outcomes in a
modal (taking out a member of the public's name) and submits; the post then says who approved
it, and the panel report quotes the office's words, never the ambassador's. Anyone else is told
the matrix's sentence and nothing is published. Signed requests through slack-bolt against the
Slack emulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from scheduler.reports.build import panel_report_html
from storage.models import AuditEvent, Feedback, Role, utcnow
from storage.operations import feedback
from storage.permissions import Action, refusal_sentence
from storage.reports.periods import quarter
from tests.handlers.slack.harness import STRANGER_ID, Office, days, held_engagement

OUTCOMES = "Priya Okonjo agreed to start a community speed watch on Sheinton Street."
EXCERPT = "Residents agreed to start a community speed watch on Sheinton Street."
BUTTON = "Mark an excerpt publishable"


async def filed_with_outcomes(office: Office) -> int:
    engagement_id = await held_engagement(office)
    async with office.db.transaction() as s:
        filed = await feedback.do_file_feedback(
            s, office.scheme, engagement_id=engagement_id, attendees=25,
            summary="Residents worried about speeding", outcomes=OUTCOMES,
            follow_up_needed="none", urgency="routine",
            actor=await s.merge(office.cast.ambassador))
        return filed.id


def feedback_post(office: Office):
    return [m for m in office.emu.messages(office.channel("engagements"))
            if "Feedback:" in str(m.blocks)][-1]


def this_quarter(office: Office):
    local = (utcnow() - days(1)).astimezone(office.scheme.tz).date()
    return quarter(local.year, (local.month - 1) // 3 + 1)


async def public_outcome(office: Office, feedback_id: int) -> str | None:
    [row] = await office.rows(Feedback, Feedback.id == feedback_id)
    return row.public_outcome


async def test_officer_publishes_an_excerpt_and_the_panel_report_quotes_it(
        office: Office) -> None:
    emu = office.emu
    feedback_id = await filed_with_outcomes(office)
    await office.deliver()
    post = feedback_post(office)
    assert [b.text for b in emu.buttons(post)] == [BUTTON]
    report = await panel_report_html(office.db, office.scheme, this_quarter(office))
    assert EXCERPT not in report and "Priya" not in report    # nothing published yet

    officer = office.uid(Role.OFFICER)
    await emu.click(officer, post, "outcome_publish")
    modal = await emu.wait_for(lambda: emu.views(officer) and emu.views(officer)[-1])
    # The officer starts from what the ambassador wrote, to edit before publishing.
    assert OUTCOMES in str(modal.definition)

    too_long = await emu.submit_view(officer, values={"excerpt": "word " * 200})
    assert too_long.errors["excerpt"] == ("A published excerpt can be at most 500 characters; "
                                          "this one has 999.")
    assert await public_outcome(office, feedback_id) is None

    await emu.submit_view(officer, values={"excerpt": EXCERPT})
    await emu.wait_for(lambda: "Excerpt approved for publication by Olive Officer"
                       in str(feedback_post(office).blocks))
    post = feedback_post(office)
    assert EXCERPT in str(post.blocks)
    assert [b.text for b in emu.buttons(post)] == ["Change the published excerpt"]
    assert await public_outcome(office, feedback_id) == EXCERPT
    async with office.db.transaction() as s:
        audited = (await s.scalars(select(AuditEvent.action).where(
            AuditEvent.target_type == "feedback", AuditEvent.target_id == feedback_id,
            AuditEvent.outcome != "refused"))).all()
    assert "publish_outcome" in audited
    await office.deliver()    # the dispatcher's rewrite of the same post agrees
    assert "Excerpt approved for publication by Olive Officer" in str(
        feedback_post(office).blocks)

    report = await panel_report_html(office.db, office.scheme, this_quarter(office))
    assert EXCERPT in report
    assert "Priya" not in report


async def test_without_the_role_the_excerpt_is_refused_with_the_matrix_sentence(
        office: Office) -> None:
    emu = office.emu
    sentence = refusal_sentence(Action.REVIEW_MEDIA)
    feedback_id = await filed_with_outcomes(office)
    await office.deliver()
    post = feedback_post(office)
    refused = (Role.AMBASSADOR, Role.COMMISSIONING, Role.COMMISSIONER, Role.ADMIN)
    for role in refused:
        await emu.click(office.uid(role), post, "outcome_publish")
        said = await office.ephemeral(office.uid(role), "Only ")
        assert said.text == sentence
        assert not emu.views(office.uid(role))          # no modal was opened
    await emu.click(STRANGER_ID, post, "outcome_publish")
    await office.ephemeral(STRANGER_ID, "not part of the Community Ambassador scheme")
    assert await public_outcome(office, feedback_id) is None
    assert len(await office.refusals(Action.REVIEW_MEDIA.value)) == len(refused)
    assert [b.text for b in emu.buttons(feedback_post(office))] == [BUTTON]

    # The deputy may: and a withdrawal (an empty excerpt) is said on the post too.
    deputy = office.uid(Role.DEPUTY)
    await emu.click(deputy, post, "outcome_publish")
    await emu.wait_for(lambda: emu.views(deputy) and emu.views(deputy)[-1])
    nothing = await emu.submit_view(deputy, values={"excerpt": "  "})
    assert "nothing to withdraw" in nothing.errors["excerpt"]
    await emu.submit_view(deputy, values={"excerpt": EXCERPT})
    await emu.wait_for(lambda: "approved for publication by Dee Deputy"
                       in str(feedback_post(office).blocks))
    await emu.click(deputy, feedback_post(office), "outcome_publish")
    modal = await emu.wait_for(lambda: emu.views(deputy) and emu.views(deputy)[-1])
    assert EXCERPT in str(modal.definition) and "Priya" not in str(modal.definition)
    await emu.submit_view(deputy, values={"excerpt": ""})
    await emu.wait_for(lambda: "withdrawn from publication" in str(feedback_post(office).blocks))
    for _ in range(50):
        if await public_outcome(office, feedback_id) is None:
            break
        await asyncio.sleep(0.02)
    assert await public_outcome(office, feedback_id) is None
