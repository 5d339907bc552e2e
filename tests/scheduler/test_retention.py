"""Retention (DESIGN §9): what is past the scheme's periods loses its free text, files and audit
detail; the records and the figures stay; a dry run lists the same without changing anything."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from scheduler.retention import REMOVED, enforce_retention
from storage.audit import audit
from storage.models import AuditEvent, Engagement, Feedback, FollowUp, Media, Outbox
from tests.storage.seed import Cast

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 24, 2, 30, tzinfo=UTC)


@pytest.fixture
async def cast(db, scheme) -> Cast:
    return await Cast.create(db, scheme)


async def seed(db, cast: Cast, tmp_path) -> dict[str, int]:
    ann = cast.ambassador
    ids: dict[str, int] = {}
    async with db.transaction() as s:
        for label, when in (("old", NOW - dt.timedelta(days=1200)),
                            ("recent", NOW - dt.timedelta(days=30))):
            e = Engagement(ambassador_id=ann.id, area_id=ann.area_id, title=f"{label} meeting",
                           kind="Other", place="Hall", starts_at=when,
                           ends_at=when + dt.timedelta(hours=1), status="held")
            s.add(e)
            await s.flush()
            f = Feedback(engagement_id=e.id, ambassador_id=ann.id, attendees=12,
                         summary=f"{label}: Mrs Jones of 4 Church Lane said…",
                         outcomes="Named people", follow_up_needed="office",
                         follow_up_detail="Call Mrs Jones", submitted_at=when)
            s.add(f)
            await s.flush()
            s.add(FollowUp(feedback_id=f.id, engagement_id=e.id, needed_by="office",
                           urgency="routine", detail="Call Mrs Jones", status="done",
                           due_at=when, created_at=when, done_at=when))
            photo, thumb = tmp_path / f"{label}.jpg", tmp_path / f"{label}-thumb.jpg"
            photo.write_bytes(b"jpeg")
            thumb.write_bytes(b"jpeg")
            m = Media(engagement_id=e.id, ambassador_id=ann.id, kind="photo",
                      safe_path=str(photo), thumb_path=str(thumb), telegram_file_id="AgAD",
                      created_at=when)
            s.add(m)
            await s.flush()
            event = audit(s, ann, "file_feedback", target=f, before={"summary": "x"},
                          after={"summary": "y"}, reason="because")
            event.at = when - dt.timedelta(days=1000)
            ids[label] = f.id
    return ids


async def test_retention_removes_what_is_past_its_period_and_nothing_else(db, scheme, cast,
                                                                          tmp_path) -> None:
    ids = await seed(db, cast, tmp_path)
    plan = await enforce_retention(db, scheme, now=NOW, dry_run=True)
    assert plan.feedback_ids == [ids["old"]] and len(plan.follow_up_ids) == 1
    assert len(plan.media_ids) == 1 and sorted(plan.files) == [
        str(tmp_path / "old-thumb.jpg"), str(tmp_path / "old.jpg")]
    assert plan.audit_lines == 1
    assert "1 feedback reports" in plan.summary(scheme)
    assert (tmp_path / "old.jpg").exists()                 # a dry run changes nothing

    done = await enforce_retention(db, scheme, now=NOW)
    assert done.feedback_ids == [ids["old"]]
    async with db.transaction() as s:
        old, recent = (await s.get(Feedback, ids["old"]), await s.get(Feedback, ids["recent"]))
        follow_ups = {f.feedback_id: f.detail for f in (await s.scalars(select(FollowUp))).all()}
        media = (await s.scalars(select(Media).order_by(Media.id))).all()
        audits = (await s.scalars(select(AuditEvent).where(
            AuditEvent.action == "file_feedback").order_by(AuditEvent.id))).all()
        report = (await s.scalars(select(Outbox).where(
            Outbox.event == "retention_report"))).all()
    assert (old.summary, old.outcomes, old.follow_up_detail) == (REMOVED, None, None)
    assert old.attendees == 12                            # the figures stay
    assert recent.summary.startswith("recent:")
    assert follow_ups == {ids["old"]: REMOVED, ids["recent"]: "Call Mrs Jones"}
    assert (media[0].safe_path, media[0].telegram_file_id) == (None, None)
    assert media[1].safe_path == str(tmp_path / "recent.jpg")
    assert not (tmp_path / "old.jpg").exists() and (tmp_path / "recent.jpg").exists()
    assert (audits[0].before, audits[0].reason) == (None, None)
    assert audits[0].action == "file_feedback"            # who, what and when stay
    assert audits[1].reason == "because"
    assert len(report) == 1 and report[0].destination == "#ambassador-alerts"

    again = await enforce_retention(db, scheme, now=NOW + dt.timedelta(days=1))
    assert again.empty
