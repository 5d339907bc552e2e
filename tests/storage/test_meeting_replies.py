"""Who replied to a meeting is the office's to see: the meeting's post in the engagements
channel is rewritten with the names on every reply, "can't come" carries its note, and a
change of mind is kept (the history) while the latest answer counts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from storage.errors import InvalidInput
from storage.models import MeetingRsvp, MeetingRsvpChange, Outbox
from storage.operations import meetings, people
from tests.storage.seed import NOW, Cast


async def test_replies_by_name_on_the_post_and_a_change_of_mind_kept(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    starts = NOW + dt.timedelta(days=10)
    async with db.transaction() as s:
        meeting = await meetings.do_schedule_meeting(
            s, scheme, kind="quarterly", title="Quarterly ambassadors' meeting",
            place=scheme.words.meeting_venue, starts_at=starts,
            ends_at=starts + dt.timedelta(hours=2),
            actor=await people.get_person(s, cast.officer.id), now=NOW)
        meeting_id = meeting.id

    async def reply(person, answer, note=None, minutes=0):
        async with db.transaction() as s:
            await meetings.do_rsvp(s, scheme, meeting_id=meeting_id, answer=answer,
                                   actor=await people.get_person(s, person.id), note=note,
                                   now=NOW + dt.timedelta(minutes=minutes))

    await reply(cast.ambassador, "yes", minutes=1)
    await reply(cast.other_ambassador, "maybe", minutes=2)
    await reply(cast.ambassador, "no", "at the Ludlow fete that morning", minutes=3)

    async with db.transaction() as s:
        posts = (await s.scalars(select(Outbox).where(Outbox.event == "meeting_post")
                                 .order_by(Outbox.id))).all()
        history = (await s.scalars(select(MeetingRsvpChange).order_by(MeetingRsvpChange.id))).all()
        latest = (await s.scalars(select(MeetingRsvp).order_by(MeetingRsvp.person_id))).all()
    assert posts[0].ref == f"meeting:{meeting_id}:post" and posts[0].destination == \
        scheme.channels.engagements
    assert all(p.replaces_ref == posts[0].ref for p in posts[1:]) and len(posts) == 4
    assert posts[-1].payload["text"].endswith(
        "Replies: Coming: — · Maybe: Bob Hereford · "
        "Can't come: Ann Shropshire (“at the Ludlow fete that morning”)")
    assert [(h.person_id, h.answer, h.note) for h in history] == [
        (cast.ambassador.id, "yes", None), (cast.other_ambassador.id, "maybe", None),
        (cast.ambassador.id, "no", "at the Ludlow fete that morning")]
    assert [(r.person_id, r.answer) for r in latest] == [(cast.ambassador.id, "no"),
                                                         (cast.other_ambassador.id, "maybe")]


@pytest.mark.parametrize("answer, note, sentence", [
    ("yes", "see you there", "A note goes with “can't come”."),
    ("no", "x" * 501, "Please keep the note to 500 characters"),
])
async def test_a_note_that_cannot_be_kept_is_refused_and_changes_nothing(db, scheme, answer,
                                                                          note, sentence) -> None:
    cast = await Cast.create(db, scheme)
    starts = NOW + dt.timedelta(days=10)
    async with db.transaction() as s:
        meeting = await meetings.do_schedule_meeting(
            s, scheme, kind="catch_up", title="Catch-up", place="online", starts_at=starts,
            ends_at=starts + dt.timedelta(hours=1),
            actor=await people.get_person(s, cast.officer.id), now=NOW)
        meeting_id = meeting.id
    with pytest.raises(InvalidInput) as refused:
        async with db.transaction() as s:
            await meetings.do_rsvp(s, scheme, meeting_id=meeting_id, answer=answer, note=note,
                                   actor=await people.get_person(s, cast.ambassador.id), now=NOW)
    assert sentence in refused.value.sentence
    async with db.transaction() as s:
        assert (await s.scalars(select(MeetingRsvpChange))).all() == []
        assert len((await s.scalars(select(Outbox).where(Outbox.event == "meeting_post"))).all()) == 1


async def test_a_meeting_in_the_past_is_refused_with_a_sentence(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    with pytest.raises(InvalidInput) as refused:
        async with db.transaction() as s:
            await meetings.do_schedule_meeting(
                s, scheme, kind="quarterly", title="Quarterly", place="Hall",
                starts_at=NOW - dt.timedelta(days=1), ends_at=NOW,
                actor=await people.get_person(s, cast.officer.id), now=NOW)
    assert refused.value.sentence == ("A meeting must be scheduled in the future: "
                                      "Mon 23 Nov 2026, 12:00 has passed.")
