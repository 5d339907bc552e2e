"""Nudges and reminders (storage/operations/reminders.py): each goes once, never to someone away
or deactivated, and resumes the day they are back."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from storage.errors import InvalidInput, NotAllowed
from storage.models import (AuditEvent, Engagement, Feedback, FollowUp, HoursEntry, Meeting,
                            MeetingRsvp, Outbox, Person)
from storage.operations import reminders
from tests.storage.seed import Cast

UTC = dt.UTC
ENDED = dt.datetime(2026, 11, 16, 20, 0, tzinfo=UTC)


@pytest.fixture
async def cast(db, scheme) -> Cast:
    return await Cast.create(db, scheme)


async def outbox(db, event: str | None = None) -> list[Outbox]:
    async with db.transaction() as s:
        query = select(Outbox).order_by(Outbox.id)
        if event:
            query = query.where(Outbox.event == event)
        return list((await s.scalars(query)).all())


async def run(db, scheme, operation, now, **kw):
    async with db.transaction() as s:
        return await operation(s, scheme, now=now, **kw)


async def set_person(db, person: Person, **values) -> None:
    async with db.transaction() as s:
        await s.execute(update(Person).where(Person.id == person.id).values(**values))


async def add_engagement(db, who: Person, ends: dt.datetime = ENDED,
                         status: str = "planned") -> int:
    async with db.transaction() as s:
        e = Engagement(ambassador_id=who.id, area_id=who.area_id, title="Parish council",
                       kind="Other", place="Hall", starts_at=ends - dt.timedelta(hours=2),
                       ends_at=ends, status=status)
        s.add(e)
        await s.flush()
        return e.id


async def test_claim_mark_records_a_key_once(db) -> None:
    async with db.transaction() as s:
        assert await reminders.claim_mark(s, "weekly_digest:2026-W47")
        assert not await reminders.claim_mark(s, "weekly_digest:2026-W47")
    async with db.transaction() as s:
        assert not await reminders.claim_mark(s, "weekly_digest:2026-W47")


async def test_feedback_nudged_after_a_day_again_after_three_then_never(db, scheme,
                                                                      cast) -> None:
    """24 h after the end: a nudge; 3 days after that nudge: another; then no more."""
    engagement_id = await add_engagement(db, cast.ambassador)
    nudge = reminders.do_nudge_feedback
    assert await run(db, scheme, nudge, ENDED + dt.timedelta(hours=23)) == []
    [first] = await run(db, scheme, nudge, ENDED + dt.timedelta(hours=24))
    assert first.destination == str(cast.ambassador.telegram_id)
    assert first.payload["engagement_id"] == engagement_id and first.payload["nudge"] == 1
    assert await run(db, scheme, nudge, ENDED + dt.timedelta(hours=25)) == []
    assert await run(db, scheme, nudge, ENDED + dt.timedelta(days=3, hours=23)) == []
    [second] = await run(db, scheme, nudge, ENDED + dt.timedelta(days=4))
    assert second.payload["nudge"] == 2 and "reminder" in second.payload["text"]
    assert await run(db, scheme, nudge, ENDED + dt.timedelta(days=9)) == []
    async with db.transaction() as s:
        assert (await s.get(Engagement, engagement_id)).feedback_nudges == 2
        audits = (await s.scalars(select(AuditEvent.action).where(
            AuditEvent.action == "nudge_feedback"))).all()
    assert len(audits) == 2


async def test_no_nudge_when_feedback_filed_or_engagement_cancelled(db, scheme, cast) -> None:
    filed = await add_engagement(db, cast.ambassador, status="held")
    await add_engagement(db, cast.ambassador, status="cancelled")
    async with db.transaction() as s:
        s.add(Feedback(engagement_id=filed, ambassador_id=cast.ambassador.id, attendees=3,
                       summary="ok"))
    assert await run(db, scheme, reminders.do_nudge_feedback, ENDED + dt.timedelta(days=2)) == []


async def test_away_and_deactivated_people_are_not_nudged_until_back(db, scheme, cast) -> None:
    """Ann is away until the 20th: her nudge waits and goes that day. Bob is deactivated."""
    await add_engagement(db, cast.ambassador)
    await add_engagement(db, cast.other_ambassador)
    await set_person(db, cast.ambassador, away_until=dt.date(2026, 11, 20))
    await set_person(db, cast.other_ambassador, active=False)
    nudge = reminders.do_nudge_feedback
    for day in (18, 19):
        assert await run(db, scheme, nudge, dt.datetime(2026, 11, day, 9, tzinfo=UTC)) == []
    [back] = await run(db, scheme, nudge, dt.datetime(2026, 11, 20, 9, tzinfo=UTC))
    assert back.destination == str(cast.ambassador.telegram_id)
    assert await run(db, scheme, nudge, dt.datetime(2026, 11, 28, 9, tzinfo=UTC)) != []
    assert {r.destination for r in await outbox(db)} == {str(cast.ambassador.telegram_id)}


async def add_meeting(db, cast: Cast, starts: dt.datetime, kind: str = "quarterly") -> int:
    async with db.transaction() as s:
        m = Meeting(kind=kind, title="Quarterly meeting", place="Hindlip Park",
                    starts_at=starts, ends_at=starts + dt.timedelta(hours=2),
                    created_by_id=cast.officer.id)
        s.add(m)
        await s.flush()
        return m.id


async def test_meeting_reminders_a_week_and_a_day_before_with_rsvp_data(db, scheme,
                                                                       cast) -> None:
    starts = dt.datetime(2026, 12, 10, 10, 0, tzinfo=UTC)
    meeting_id = await add_meeting(db, cast, starts)
    async with db.transaction() as s:
        s.add(MeetingRsvp(meeting_id=meeting_id, person_id=cast.ambassador.id, answer="yes"))
    remind = reminders.do_remind_meetings
    assert await run(db, scheme, remind, starts - dt.timedelta(days=7, hours=1)) == []
    week = await run(db, scheme, remind, starts - dt.timedelta(days=7))
    assert {r.destination for r in week} == {str(cast.ambassador.telegram_id),
                                             str(cast.other_ambassador.telegram_id)}
    ann = next(r for r in week if r.destination == str(cast.ambassador.telegram_id))
    assert ann.payload["meeting_id"] == meeting_id and ann.payload["which"] == "week"
    assert ann.payload["rsvp"] == ["yes", "no", "maybe"] and ann.payload["answer"] == "yes"
    assert ann.payload["answers"] == {"yes": 1, "no": 0, "maybe": 0}
    assert "next week" in ann.payload["text"]
    assert await run(db, scheme, remind, starts - dt.timedelta(days=6)) == []
    async with db.transaction() as s:
        await s.execute(update(MeetingRsvp).values(answer="no"))   # Ann now can't come
    [day] = await run(db, scheme, remind, starts - dt.timedelta(hours=23))
    assert day.destination == str(cast.other_ambassador.telegram_id)
    assert "tomorrow" in day.payload["text"] and day.payload["which"] == "day"
    assert await run(db, scheme, remind, starts - dt.timedelta(hours=2)) == []
    async with db.transaction() as s:
        meeting = await s.get(Meeting, meeting_id)
    assert meeting.reminded_week_at == starts - dt.timedelta(days=7)
    assert meeting.reminded_day_at == starts - dt.timedelta(hours=23)


async def test_meeting_reminder_reaches_someone_back_from_away(db, scheme, cast) -> None:
    """Away when the week-before reminders went, back three days before: reminded that day."""
    starts = dt.datetime(2026, 12, 10, 10, 0, tzinfo=UTC)
    await add_meeting(db, cast, starts)
    await set_person(db, cast.ambassador, away_until=dt.date(2026, 12, 7))
    week = await run(db, scheme, reminders.do_remind_meetings, starts - dt.timedelta(days=7))
    assert [r.destination for r in week] == [str(cast.other_ambassador.telegram_id)]
    back = await run(db, scheme, reminders.do_remind_meetings,
                     dt.datetime(2026, 12, 7, 8, tzinfo=UTC))
    assert [r.destination for r in back] == [str(cast.ambassador.telegram_id)]


async def test_weekly_catch_up_once_and_to_those_back_later(db, scheme, cast) -> None:
    wednesday = dt.datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
    await set_person(db, cast.other_ambassador, away_until=dt.date(2026, 11, 20))
    late = reminders.do_ask_catch_up
    assert await run(db, scheme, late, wednesday - dt.timedelta(days=1),
                     only_if_started=True) == []
    [asked] = await run(db, scheme, late, wednesday)
    assert asked.destination == str(cast.ambassador.telegram_id)
    assert asked.payload["week"] == "2026-W47"
    assert await run(db, scheme, late, wednesday) == []
    assert await run(db, scheme, late, wednesday + dt.timedelta(days=1),
                     only_if_started=True) == []
    [bob] = await run(db, scheme, late, wednesday + dt.timedelta(days=2), only_if_started=True)
    assert bob.destination == str(cast.other_ambassador.telegram_id)


async def test_catch_up_answer_goes_to_the_engagements_channel(db, scheme, cast) -> None:
    async with db.transaction() as s:
        ann = await s.merge(cast.ambassador)
        await s.refresh(ann, ["area"])
        row = await reminders.do_answer_catch_up(s, scheme, text="  Speeding on the A49 again ",
                                                 actor=ann)
    assert row.destination == "#ambassador-engagements" and row.event == "catch_up_answer"
    assert "Catch-up from Ann Shropshire (Shropshire)" in row.payload["text"]
    assert row.payload["answer"] == "Speeding on the A49 again"
    with pytest.raises(InvalidInput, match="write your answer"):
        async with db.transaction() as s:
            await reminders.do_answer_catch_up(s, scheme, text=" ",
                                               actor=await s.merge(cast.ambassador))
    with pytest.raises(NotAllowed):
        async with db.transaction() as s:
            await reminders.do_answer_catch_up(s, scheme, text="hello",
                                               actor=await s.merge(cast.officer))
    assert len(await outbox(db, "catch_up_answer")) == 1


async def test_monthly_hours_summary_against_the_commitment(db, scheme, cast) -> None:
    async with db.transaction() as s:
        s.add_all([HoursEntry(person_id=cast.ambassador.id, worked_on=dt.date(2026, 10, 3),
                              minutes=1500),
                   HoursEntry(person_id=cast.ambassador.id, worked_on=dt.date(2026, 11, 1),
                              minutes=600)])
    first = dt.datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    sent = await run(db, scheme, reminders.do_send_hours_summaries, first)
    ann = next(r for r in sent if r.destination == str(cast.ambassador.telegram_id))
    assert ann.payload["text"].startswith("In October 2026 you logged 25h of your 40h "
                                          "commitment (15h short).")
    assert ann.payload["minutes"] == 1500
    assert await run(db, scheme, reminders.do_send_hours_summaries, first) == []


async def test_overdue_follow_ups_alerted_once_a_day(db, scheme, cast) -> None:
    engagement_id = await add_engagement(db, cast.ambassador, status="held")
    async with db.transaction() as s:
        f = Feedback(engagement_id=engagement_id, ambassador_id=cast.ambassador.id,
                     attendees=3, summary="ok")
        s.add(f)
        await s.flush()
        s.add(FollowUp(feedback_id=f.id, engagement_id=engagement_id, needed_by="office",
                       urgency="urgent", detail="Broken gate", status="open",
                       due_at=ENDED + dt.timedelta(days=1)))
    alert = reminders.do_alert_overdue_follow_ups
    assert await run(db, scheme, alert, ENDED + dt.timedelta(hours=12)) is None
    row = await run(db, scheme, alert, ENDED + dt.timedelta(days=2))
    assert row.destination == "#ambassador-alerts"
    assert "1 follow-up is overdue" in row.payload["text"] and "Broken gate" in row.payload["text"]
    assert await run(db, scheme, alert, ENDED + dt.timedelta(days=2, hours=3)) is None
    assert await run(db, scheme, alert, ENDED + dt.timedelta(days=3)) is not None
