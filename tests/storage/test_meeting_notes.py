"""After a meeting the office records who came, the notes, decisions and actions: each action
is a follow-up of the meeting with an owner and a due date, the owners are told their actions,
every ambassador gets the notes, and the meeting's post shows them. A bad row refuses the whole
record with a sentence and changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from storage.errors import Refused
from storage.models import (AuditEvent, FollowUp, Meeting, MeetingAttendance, Outbox, Person,
                            Role)
from storage.operations import follow_ups, meeting_notes, meetings, people, reminders
from storage.operations.meeting_notes import ActionItem
from tests.storage.seed import NOW, Cast, person

HELD = NOW - dt.timedelta(days=1)


async def held_meeting(db, scheme, cast: Cast) -> int:
    """A quarterly meeting held yesterday (scheduled a fortnight before)."""
    async with db.transaction() as s:
        meeting = await meetings.do_schedule_meeting(
            s, scheme, kind="quarterly", title="Quarterly ambassadors' meeting",
            place=scheme.words.meeting_venue, starts_at=HELD,
            ends_at=HELD + dt.timedelta(hours=2),
            actor=await people.get_person(s, cast.officer.id), now=NOW - dt.timedelta(days=14))
        return meeting.id


async def record(db, scheme, cast: Cast, meeting_id: int, **overrides):
    values = {"attended_ids": [cast.ambassador.id, cast.officer.id],
              "notes": "Ann reported the Ludlow fete went well.\nRural crime is rising.",
              "decisions": "Hold a rural crime evening in March.",
              "actions": [ActionItem("Book the hall for the rural crime evening",
                                     cast.ambassador.id, dt.date(2026, 12, 10)),
                          ActionItem("Ask the rural crime team to speak", cast.officer.id,
                                     None)]}
    values.update(overrides)
    async with db.transaction() as s:
        return await meeting_notes.do_record_meeting_notes(
            s, scheme, meeting_id=meeting_id, actor=await people.get_person(s, cast.officer.id),
            now=NOW, **values)


async def test_attendance_notes_and_two_actions_become_follow_ups_and_are_told(db,
                                                                                scheme) -> None:
    cast = await Cast.create(db, scheme)
    meeting_id = await held_meeting(db, scheme, cast)
    made = await record(db, scheme, cast, meeting_id)

    async with db.transaction() as s:
        meeting = await s.get(Meeting, meeting_id)
        came = (await s.scalars(select(MeetingAttendance.person_id)
                                .where(MeetingAttendance.meeting_id == meeting_id))).all()
        actions = (await s.scalars(select(FollowUp).where(FollowUp.meeting_id == meeting_id)
                                   .order_by(FollowUp.id))).all()
        told = (await s.scalars(select(Outbox).where(Outbox.event == "meeting_actions")
                                .order_by(Outbox.id))).all()
        notes = (await s.scalars(select(Outbox).where(Outbox.event == "meeting_notes"))).all()
        post = await s.scalar(select(Outbox).where(Outbox.event == "meeting_post")
                              .order_by(Outbox.id.desc()).limit(1))
        audited = await s.scalar(select(AuditEvent).where(
            AuditEvent.action == "record_meeting_notes"))
    assert meeting.notes.startswith("Ann reported") and meeting.notes_by_id == cast.officer.id
    assert sorted(came) == sorted([cast.ambassador.id, cast.officer.id])
    assert [(a.detail, a.owner_id, a.status, a.engagement_id) for a in actions] == [
        ("Book the hall for the rural crime evening", cast.ambassador.id, "open", None),
        ("Ask the rural crime team to speak", cast.officer.id, "open", None)]
    assert [a.id for a in actions] == [m.id for m in made]
    # Due by the end of the chosen day in the scheme's zone; no date: the scheme's usual time.
    assert actions[0].due_at.astimezone(scheme.tz).date() == dt.date(2026, 12, 10)
    assert actions[1].due_at.astimezone(scheme.tz).date() == \
        NOW.date() + dt.timedelta(days=scheme.limits.follow_up_due_days)
    assert {t.destination for t in told} == {str(cast.ambassador.telegram_id),
                                             str(cast.officer.telegram_id)}
    ann = next(t for t in told if t.destination == str(cast.ambassador.telegram_id))
    assert "Book the hall for the rural crime evening — due Thu 10 Dec 2026" in \
        ann.payload["text"]
    assert "rural crime team" not in ann.payload["text"]
    assert {n.destination for n in notes} == {str(cast.ambassador.telegram_id),
                                              str(cast.other_ambassador.telegram_id)}
    assert "Came: Ann Shropshire, Olive Officer" in notes[0].payload["text"]
    assert "Hold a rural crime evening in March." in notes[0].payload["text"]
    assert post.replaces_ref == meetings.post_ref(meeting_id)
    assert post.payload["attended"] == ["Ann Shropshire", "Olive Officer"]
    assert [a["owner"] for a in post.payload["actions"]] == ["Ann Shropshire", "Olive Officer"]
    assert audited.after["follow_up_ids"] == [a.id for a in actions]


async def test_an_action_done_leaves_mine_and_the_post_shows_it_without_an_alert(db,
                                                                                  scheme) -> None:
    cast = await Cast.create(db, scheme)
    meeting_id = await held_meeting(db, scheme, cast)
    made = await record(db, scheme, cast, meeting_id)
    async with db.transaction() as s:
        assert [a.text for a in await meeting_notes.open_actions(s, cast.ambassador.id)] == [
            "Book the hall for the rural crime evening"]
        await follow_ups.do_complete_follow_up(
            s, scheme, follow_up_id=made[0].id, actor=await people.get_person(s, cast.officer.id))
    async with db.transaction() as s:
        assert await meeting_notes.open_actions(s, cast.ambassador.id) == []
        post = await s.scalar(select(Outbox).where(Outbox.event == "meeting_post")
                              .order_by(Outbox.id.desc()).limit(1))
        alerts = await s.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.destination == scheme.channels.alerts))
    assert [a["done"] for a in post.payload["actions"]] == [True, False]
    assert alerts == 0


async def test_overdue_meeting_actions_are_in_the_overdue_alert(db, scheme) -> None:
    """The daily overdue list once joined every follow-up to an engagement, so an action
    agreed at a meeting (or any follow-up without an engagement) was never listed."""
    cast = await Cast.create(db, scheme)
    meeting_id = await held_meeting(db, scheme, cast)
    await record(db, scheme, cast, meeting_id)
    async with db.transaction() as s:
        row = await reminders.do_alert_overdue_follow_ups(s, scheme,
                                                          now=NOW + dt.timedelta(days=30))
    assert row is not None and row.payload["total"] == 2
    assert "Quarterly ambassadors' meeting — Book the hall" in row.payload["text"]
    assert "held by Ann Shropshire" in row.payload["text"]


@pytest.mark.parametrize("change, sentence", [
    ("stranger", "Someone chosen under “Who came” isn't an active person of the scheme"),
    ("long_notes", "Please keep the notes to 2,000 characters (they have 2,001)."),
    ("no_owner", "The action “Book the hall” has no owner: please choose who will do it."),
    ("past_due", "The action “Book the hall” is due on Fri 20 Nov 2026, which has passed"),
    ("no_words", "Action 1 has an owner or a date but no words"),
    ("no_notes", "Please write the notes of the meeting."),
])
async def test_bad_input_is_refused_with_a_sentence_and_changes_nothing(db, scheme, change,
                                                                        sentence) -> None:
    cast = await Cast.create(db, scheme)
    meeting_id = await held_meeting(db, scheme, cast)
    async with db.transaction() as s:
        gone = await person(s, Role.AMBASSADOR, "Gone Away", active=False)
        before = await s.scalar(select(func.count()).select_from(Outbox))
    overrides = {
        "stranger": {"attended_ids": [cast.ambassador.id, gone.id]},
        "long_notes": {"notes": "x" * 2001},
        "no_owner": {"actions": [ActionItem("Book the hall", None, None)]},
        "past_due": {"actions": [ActionItem("Book the hall", cast.ambassador.id,
                                            dt.date(2026, 11, 20))]},
        "no_words": {"actions": [ActionItem("  ", cast.ambassador.id, None)]},
        "no_notes": {"notes": " \n "},
    }[change]
    with pytest.raises(Refused) as refused:
        await record(db, scheme, cast, meeting_id, **overrides)
    assert sentence in refused.value.sentence
    async with db.transaction() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting.notes is None and meeting.notes_at is None
        assert await s.scalar(select(func.count()).select_from(FollowUp)) == 0
        assert await s.scalar(select(func.count()).select_from(MeetingAttendance)) == 0
        assert await s.scalar(select(func.count()).select_from(Outbox)) == before


async def test_a_meeting_not_yet_held_or_already_recorded_is_refused(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    starts = NOW + dt.timedelta(days=3)
    async with db.transaction() as s:
        coming = await meetings.do_schedule_meeting(
            s, scheme, kind="quarterly", title="Next one", place="Hindlip Park",
            starts_at=starts, ends_at=starts + dt.timedelta(hours=2),
            actor=await people.get_person(s, cast.officer.id), now=NOW)
    with pytest.raises(Refused, match="hasn't happened yet"):
        await record(db, scheme, cast, coming.id)
    held = await held_meeting(db, scheme, cast)
    await record(db, scheme, cast, held)
    with pytest.raises(Refused, match="were recorded already"):
        await record(db, scheme, cast, held)


async def test_an_ambassador_cannot_record_notes(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    meeting_id = await held_meeting(db, scheme, cast)
    async with db.transaction() as s:
        actor: Person = await people.get_person(s, cast.ambassador.id)
        with pytest.raises(Refused):
            await meeting_notes.do_record_meeting_notes(
                s, scheme, meeting_id=meeting_id, attended_ids=[], notes="x", actor=actor,
                now=NOW)
