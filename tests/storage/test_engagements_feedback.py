"""Engagements, feedback, follow-ups and escalation; media review; hours and expenses."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from storage.errors import Conflict, InvalidInput
from storage.models import Engagement, Feedback, FollowUp, Outbox
from storage.operations import engagements, expenses, feedback, follow_ups, hours, media
from tests.storage.seed import NOW, Cast

START = NOW + dt.timedelta(days=2)


async def prenotify(db, scheme, actor, starts=START, **extra):
    async with db.transaction() as s:
        return (await engagements.do_prenotify_engagement(
            s, scheme, title="Much Wenlock parish council", kind="Parish council meeting",
            place="Memorial Hall", starts_at=starts, ends_at=starts + dt.timedelta(hours=2),
            expected_audience=30, actor=await s.merge(actor), now=NOW, **extra)).id


async def rows(db, model, *where):
    async with db.transaction() as s:
        return (await s.scalars(select(model).where(*where))).all()


@pytest.fixture
async def cast(db, scheme):
    return await Cast.create(db, scheme)


async def test_prenotification_posts_to_the_engagements_channel(db, scheme, cast) -> None:
    engagement_id = await prenotify(db, scheme, cast.ambassador)
    [e] = await rows(db, Engagement)
    assert (e.id, e.status, e.notice_given_at, e.area.name) == (engagement_id, "planned", NOW,
                                                                "Shropshire")
    [post] = await rows(db, Outbox)
    assert post.destination == "#ambassador-engagements"
    assert "Much Wenlock parish council" in post.payload["text"]
    assert "Thu 26 Nov 2026, 12:00" in post.payload["text"]


@pytest.mark.parametrize("starts,ends_delta,match", [
    (NOW - dt.timedelta(hours=1), dt.timedelta(hours=1), "that time has passed"),
    (START, -dt.timedelta(hours=1), "end must be after the start"),
    (START, dt.timedelta(hours=30), "up to 24 hours"),
])
async def test_bad_times_are_refused_and_nothing_is_written(db, scheme, cast, starts,
                                                            ends_delta, match) -> None:
    with pytest.raises(InvalidInput, match=match):
        async with db.transaction() as s:
            await engagements.do_prenotify_engagement(
                s, scheme, title="T", kind="Other", place="P", starts_at=starts,
                ends_at=starts + ends_delta, actor=await s.merge(cast.ambassador), now=NOW)
    assert await rows(db, Engagement) == [] and await rows(db, Outbox) == []


async def test_report_after_the_fact_and_unknown_kind(db, scheme, cast) -> None:
    past = NOW - dt.timedelta(days=1)
    await prenotify(db, scheme, cast.ambassador, starts=past, after_the_fact=True)
    [e] = await rows(db, Engagement)
    assert e.status == "held" and e.reported_after and e.notice_given_at is None
    with pytest.raises(InvalidInput, match="kind of engagement"):
        async with db.transaction() as s:
            await engagements.do_prenotify_engagement(
                s, scheme, title="T", kind="Rave", place="P", starts_at=START,
                ends_at=START + dt.timedelta(hours=1), actor=await s.merge(cast.ambassador),
                now=NOW)


async def test_edit_only_own_and_only_before_held(db, scheme, cast) -> None:
    engagement_id = await prenotify(db, scheme, cast.ambassador)
    async with db.transaction() as s:
        e = await engagements.do_edit_engagement(
            s, scheme, engagement_id=engagement_id, changes={"place": "Village Hall"},
            actor=await s.merge(cast.ambassador), now=NOW)
        assert e.place == "Village Hall"
    with pytest.raises(Exception, match="belongs to someone else"):
        async with db.transaction() as s:
            await engagements.do_edit_engagement(
                s, scheme, engagement_id=engagement_id, changes={"place": "X"},
                actor=await s.merge(cast.other_ambassador), now=NOW)
    async with db.transaction() as s:
        await engagements.do_cancel_engagement(s, scheme, engagement_id=engagement_id,
                                               reason="Rain", actor=await s.merge(cast.ambassador))
    with pytest.raises(Conflict, match="already cancelled"):
        async with db.transaction() as s:
            await engagements.do_edit_engagement(
                s, scheme, engagement_id=engagement_id, changes={"place": "X"},
                actor=await s.merge(cast.ambassador), now=NOW)


async def file(db, scheme, actor, engagement_id, **kw):
    values = dict(attendees=25, summary="Speeding on the B4371 came up repeatedly.",
                  groups=["Older people", "Rural communities"], topics=["Road safety"],
                  outcomes="Agreed a speed watch", follow_up_needed="none", urgency="routine")
    values.update(kw)
    async with db.transaction() as s:
        return (await feedback.do_file_feedback(s, scheme, engagement_id=engagement_id,
                                                actor=await s.merge(actor),
                                                now=START + dt.timedelta(hours=3),
                                                **values)).id


async def test_feedback_once_per_engagement_marks_it_held(db, scheme, cast) -> None:
    engagement_id = await prenotify(db, scheme, cast.ambassador)
    await file(db, scheme, cast.ambassador, engagement_id)
    [e] = await rows(db, Engagement)
    assert e.status == "held"
    [fb] = await rows(db, Feedback)
    assert sorted(g.name for g in fb.groups) == ["Older people", "Rural communities"]
    with pytest.raises(Conflict, match="already been filed"):
        await file(db, scheme, cast.ambassador, engagement_id)
    assert len(await rows(db, Feedback)) == 1


async def test_feedback_refusals(db, scheme, cast) -> None:
    engagement_id = await prenotify(db, scheme, cast.ambassador)
    with pytest.raises(InvalidInput, match="not one of the scheme's demographic groups"):
        await file(db, scheme, cast.ambassador, engagement_id, groups=["Martians"])
    with pytest.raises(InvalidInput, match="up to 2,000 characters; yours has 10,000"):
        await file(db, scheme, cast.ambassador, engagement_id, summary="x" * 10_000)
    with pytest.raises(InvalidInput, match="needs a follow-up"):
        await file(db, scheme, cast.ambassador, engagement_id, urgency="urgent")
    with pytest.raises(InvalidInput, match="follow-up detail"):
        await file(db, scheme, cast.ambassador, engagement_id, follow_up_needed="office")
    with pytest.raises(Exception, match="belongs to someone else"):
        await file(db, scheme, cast.other_ambassador, engagement_id)
    assert await rows(db, Feedback) == [] and await rows(db, FollowUp) == []


async def test_urgent_feedback_is_escalated_and_follow_up_handled(db, scheme, cast) -> None:
    engagement_id = await prenotify(db, scheme, cast.ambassador)
    await file(db, scheme, cast.ambassador, engagement_id, follow_up_needed="police_or_partner",
               follow_up_detail="Resident reports drug dealing behind the shop", urgency="urgent")
    [follow_up] = await rows(db, FollowUp)
    assert follow_up.due_at == START + dt.timedelta(hours=3, days=1)
    [alert] = await rows(db, Outbox, Outbox.destination == "#ambassador-alerts")
    assert alert.ref == f"follow_up:{follow_up.id}:alert"
    assert alert.payload["text"].startswith("URGENT: Much Wenlock parish council")
    async with db.transaction() as s:
        await follow_ups.do_acknowledge_follow_up(s, scheme, follow_up_id=follow_up.id,
                                                  actor=await s.merge(cast.officer))
        await follow_ups.do_assign_follow_up(s, scheme, follow_up_id=follow_up.id,
                                             owner_id=cast.deputy.id,
                                             actor=await s.merge(cast.officer))
    with pytest.raises(InvalidInput, match="active member of the office"):
        async with db.transaction() as s:
            await follow_ups.do_assign_follow_up(s, scheme, follow_up_id=follow_up.id,
                                                 owner_id=cast.ambassador.id,
                                                 actor=await s.merge(cast.officer))
    async with db.transaction() as s:
        await follow_ups.do_complete_follow_up(s, scheme, follow_up_id=follow_up.id,
                                               actor=await s.merge(cast.deputy))
    with pytest.raises(Conflict, match="already done"):
        async with db.transaction() as s:
            await follow_ups.do_complete_follow_up(s, scheme, follow_up_id=follow_up.id,
                                                   actor=await s.merge(cast.deputy))
    updates = await rows(db, Outbox, Outbox.replaces_ref == f"follow_up:{follow_up.id}:alert")
    assert [u.payload["status"] for u in updates] == ["acknowledged", "acknowledged", "done"]
    assert "assigned to Dee Deputy by Olive Officer" in updates[1].payload["text"]


async def test_children_without_guardian_consent_cannot_be_approved(db, scheme, cast) -> None:
    engagement_id = await prenotify(db, scheme, cast.ambassador)
    async with db.transaction() as s:
        photo = await media.do_record_media(s, scheme, engagement_id=engagement_id,
                                            kind="photo", consent_given=True,
                                            children_present=True, content_hash="ab" * 32,
                                            actor=await s.merge(cast.ambassador))
        again = await media.do_record_media(s, scheme, engagement_id=engagement_id,
                                            kind="photo", consent_given=True,
                                            children_present=True, content_hash="ab" * 32,
                                            actor=await s.merge(cast.ambassador))
        assert again.id == photo.id
    with pytest.raises(Conflict, match="no guardian consent is recorded"):
        async with db.transaction() as s:
            await media.do_review_media(s, scheme, media_id=photo.id, approve=True,
                                        actor=await s.merge(cast.officer))
    async with db.transaction() as s:
        await media.do_record_guardian_consent(s, media_id=photo.id,
                                               actor=await s.merge(cast.officer))
        reviewed = await media.do_review_media(s, scheme, media_id=photo.id, approve=True,
                                               actor=await s.merge(cast.officer))
        assert reviewed.review_status == "approved"


async def test_hours_and_expenses(db, scheme, cast) -> None:
    today = NOW.date()
    async with db.transaction() as s:
        me = await s.merge(cast.ambassador)
        await hours.do_log_hours(s, worked_on=today, minutes=90, actor=me, today=today)
        assert await hours.minutes_in_month(s, me.id, today.year, today.month) == 90
        with pytest.raises(InvalidInput, match="more than 24 hours"):
            await hours.do_log_hours(s, worked_on=today, minutes=23 * 60, actor=me, today=today)
        with pytest.raises(InvalidInput, match="can't be in the future"):
            await hours.do_log_hours(s, worked_on=today + dt.timedelta(days=1), minutes=60,
                                     actor=me, today=today)
        claim = await expenses.do_claim_expense(s, scheme, kind="mileage", amount_pence=None,
                                             miles_tenths=123, incurred_on=today,
                                             description="To Ludlow", actor=me, today=today)
        assert claim.amount_pence == 554  # 12.3 miles at 45p
        with pytest.raises(InvalidInput, match="photo of the receipt"):
            await expenses.do_claim_expense(s, scheme, kind="travel", amount_pence=500,
                                         incurred_on=today, description="Train", actor=me,
                                         today=today)
    async with db.transaction() as s:
        await expenses.do_approve_expense(s, scheme, claim_id=claim.id,
                                          actor=await s.merge(cast.officer))
        paid = await expenses.do_mark_expense_paid(s, scheme, claim_id=claim.id,
                                                actor=await s.merge(cast.officer))
        assert paid.status == "paid"
        news = (await s.scalars(select(Outbox).where(Outbox.event == "expense_news"))).all()
        assert [n.payload["status"] for n in news] == ["approved", "paid"]
        assert await s.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.destination == str(cast.ambassador.telegram_id))) == 2
