"""Meetings on the ambassador's phone (issue 19): "Can't make it" asks for an optional note
(a force-reply; "skip" keeps none) and the note is kept with the reply, before any catch-up
answer could take it; /mine lists the person's open actions from meetings with their due dates,
and an action done is no longer listed. Real python-telegram-bot against the emulator."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.jobs import JobContext, weekly_catch_up
from storage.models import CatchUp, MeetingRsvp, MeetingRsvpChange, Outbox
from storage.operations import follow_ups, meeting_notes, meetings, people
from storage.operations.meeting_notes import ActionItem
from tests.handlers.telegram.harness import said
from tests.scheduler.test_rsvp_and_catch_up import NO, line  # noqa: F401  (the fixture)
from tests.storage.seed import NOW

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def invite(line, starts: dt.datetime, *, now: dt.datetime = NOW) -> int:  # noqa: F811
    async with line.db.transaction() as s:
        meeting = await meetings.do_schedule_meeting(
            s, line.scheme, kind="quarterly", title="Quarterly ambassadors' meeting",
            place="Hindlip Park", starts_at=starts, ends_at=starts + dt.timedelta(hours=2),
            actor=await people.get_person(s, line.cast.officer.id), now=now)
    await line.deliver()
    return meeting.id


async def test_cant_come_asks_for_a_note_and_keeps_it_before_the_catch_up(
        line) -> None:  # noqa: F811
    cast = line.cast
    meeting_id = await invite(line, NOW + dt.timedelta(days=20))
    # The weekly catch-up question is open too: a note must not be taken for its answer.
    assert await weekly_catch_up(JobContext(line.db, line.scheme, NOW)) == 2
    await line.deliver()

    ann = line.tg.user(cast.ambassador.telegram_id, "Ann")
    invitation = next(m for m in ann.bot_messages() if m.text.startswith("Quarterly"))
    await ann.press(NO, invitation)
    question = await said(ann, "Sorry you can't come.")
    await ann.send_text("At the Ludlow fete that morning", reply_to=question)
    await said(ann, "passed your note to the office")

    [rsvp] = await line.rows(MeetingRsvp)
    assert (rsvp.meeting_id, rsvp.answer, rsvp.note) == (meeting_id, "no",
                                                         "At the Ludlow fete that morning")
    history = await line.rows(MeetingRsvpChange)
    assert [(h.answer, h.note) for h in history] == [
        ("no", None), ("no", "At the Ludlow fete that morning")]
    assert await line.rows(CatchUp) == []
    await line.deliver()
    post = (await line.rows(Outbox, Outbox.event == "meeting_post"))[-1]
    assert "Can't come: Ann Shropshire (“At the Ludlow fete that morning”)" in \
        post.payload["text"]

    # Bob says skip: his answer stands with no note, and nothing reaches the catch-up.
    bob = line.tg.user(cast.other_ambassador.telegram_id, "Bob")
    invitation = next(m for m in bob.bot_messages() if m.text.startswith("Quarterly"))
    await bob.press(NO, invitation)
    question = await said(bob, "Sorry you can't come.")
    await bob.send_text("skip", reply_to=question)
    await said(bob, "your answer stands without a note")
    bobs = [r for r in await line.rows(MeetingRsvp) if r.person_id == cast.other_ambassador.id]
    assert [(r.answer, r.note) for r in bobs] == [("no", None)]
    assert await line.rows(CatchUp) == []

    # Too long a note is refused with the reason; the reply stays as it was.
    await bob.send_text("x" * 501, reply_to=question)
    await said(bob, "Please keep the note to 500 characters")
    bobs = [r for r in await line.rows(MeetingRsvp) if r.person_id == cast.other_ambassador.id]
    assert bobs[0].note is None


async def test_mine_lists_open_meeting_actions_until_done(line) -> None:  # noqa: F811
    cast = line.cast
    held = NOW - dt.timedelta(days=1)
    meeting_id = await invite(line, held, now=NOW - dt.timedelta(days=20))
    async with line.db.transaction() as s:
        made = await meeting_notes.do_record_meeting_notes(
            s, line.scheme, meeting_id=meeting_id, attended_ids=[cast.ambassador.id],
            notes="Rural crime is rising.", actions=[
                ActionItem("Book the hall for the rural crime evening", cast.ambassador.id,
                           dt.date(2026, 12, 10)),
                ActionItem("Ask the rural crime team to speak", cast.officer.id, None)],
            actor=await people.get_person(s, cast.officer.id), now=NOW)
    await line.deliver()
    ann = line.tg.user(cast.ambassador.telegram_id, "Ann")
    await said(ann, "Your action from Quarterly ambassadors' meeting")

    await ann.send_text("/mine")
    mine = await said(ann, "Your actions from meetings:")
    assert ("• Book the hall for the rural crime evening — due Thu 10 Dec 2026 (Quarterly "
            "ambassadors' meeting)") in mine.text
    assert "rural crime team" not in mine.text

    async with line.db.transaction() as s:
        await follow_ups.do_complete_follow_up(
            s, line.scheme, follow_up_id=made[0].id,
            actor=await people.get_person(s, cast.officer.id))
    await ann.send_text("/mine")
    mine = await said(ann, "Your records")
    assert "Your actions from meetings" not in mine.text and "Book the hall" not in mine.text
