"""Retention (DESIGN §9): what is past the scheme's periods loses its free text, files, message
bodies, audit detail and abandoned drafts; the records and the figures stay; a dry run says
the same sentence, with the same counts, without changing anything."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from scheduler.retention import REMOVED, enforce_retention
from storage.audit import audit
from storage.media.store import ORIGINALS, PHOTOS, THUMBS, MediaStore
from storage.models import (AuditEvent, Base, CatchUp, Engagement, ExpenseClaim, Feedback,
                            FollowUp, FormDraft, FundLedgerEntry, GrantRecommendation, HoursEntry,
                            Invite, Media, Meeting, MeetingRsvp, MeetingRsvpChange, Outbox)
from tests.storage.seed import Cast

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
# Every piece of personal text the seed writes carries its age's marker, so a scan of the
# whole database (and the media directory) finds any copy left behind.
OLD, RECENT = "Zorblat", "Quennick"


@pytest.fixture
async def cast(db, scheme) -> Cast:
    return await Cast.create(db, scheme)


def _files(store: MediaStore, label: str) -> tuple[str, str, str]:
    digest = hashlib.sha256(label.encode()).hexdigest()
    paths = [store.path(PHOTOS, digest), store.path(THUMBS, digest),
             store.path(ORIGINALS, digest, ".heic")]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{label} photo of Mrs Jones".encode())
    return digest, str(paths[0]), str(paths[1])


async def seed(db, cast: Cast, store: MediaStore) -> dict[str, int]:
    """One settled record of every kind holding personal text, long ago and last month."""
    ann = cast.ambassador
    ids: dict[str, int] = {}
    async with db.transaction() as s:
        for mark, when in ((OLD, NOW - dt.timedelta(days=3000)),
                           (RECENT, NOW - dt.timedelta(days=20))):
            e = Engagement(ambassador_id=ann.id, area_id=ann.area_id, title=f"{mark} meeting",
                           kind="Other", place=f"{mark} Farm", starts_at=when,
                           ends_at=when + dt.timedelta(hours=1), status="held",
                           latitude=52.1, longitude=-2.9, cancel_reason=f"{mark} reason")
            s.add(e)
            await s.flush()
            f = Feedback(engagement_id=e.id, ambassador_id=ann.id, attendees=12,
                         summary=f"{mark}: Mrs Jones of 4 Church Lane said…",
                         outcomes=f"{mark} outcomes", follow_up_needed="office",
                         follow_up_detail=f"Call {mark}", submitted_at=when,
                         public_outcome=f"{mark} excerpt")
            s.add(f)
            await s.flush()
            s.add(FollowUp(feedback_id=f.id, engagement_id=e.id, needed_by="office",
                           urgency="routine", detail=f"Call {mark}", status="done",
                           due_at=when, created_at=when, done_at=when))
            digest, safe, thumb = _files(store, mark)
            s.add(Media(engagement_id=e.id, ambassador_id=ann.id, kind="photo",
                        content_hash=digest, safe_path=safe, thumb_path=thumb,
                        telegram_file_id=f"AgAD{mark}", caption=f"Farmer {mark}",
                        created_at=when))
            g = GrantRecommendation(ambassador_id=ann.id, area_id=ann.area_id,
                                    applicant_organisation=f"{mark} club",
                                    applicant_contact=f"{mark}, 07700 900123",
                                    project=f"{mark} project", amount_pence=10_000,
                                    status="approved", info_request=f"{mark} info",
                                    deputy_recommendation=f"{mark} deputy",
                                    decision_reason=f"{mark} decision", decided_at=when,
                                    created_at=when, updated_at=when)
            s.add(g)
            await s.flush()
            s.add(HoursEntry(person_id=ann.id, worked_on=when.date(), minutes=60,
                             description=f"{mark} hours", created_at=when))
            s.add(ExpenseClaim(person_id=ann.id, kind="travel", amount_pence=500,
                               incurred_on=when.date(), description=f"{mark} bus",
                               receipt_file_id=f"AgAD{mark}r", status="paid",
                               created_at=when))
            s.add(Invite(code=f"code-{when:%Y%m%d}", name=f"{mark} Invitee", role="ambassador",
                         expires_at=when))
            s.add(Outbox(transport="telegram", destination=str(ann.telegram_id),
                         event="feedback_filed", payload={"text": f"{mark} said", "summary":
                                                          f"{mark} summary"},
                         status="sent", created_at=when, sent_at=when))
            s.add(FormDraft(person_id=ann.id, transport="telegram", form=f"feedback-{mark}",
                            active=False, state={"answers": {"summary": f"{mark} draft"}},
                            updated_at=when if mark == OLD else NOW - dt.timedelta(days=3),
                            expires_at=when + dt.timedelta(days=14)))
            meeting = Meeting(kind="quarterly", title="Quarterly meeting", place="Town Hall",
                              starts_at=when, ends_at=when + dt.timedelta(hours=2),
                              notes=f"{mark} notes", decisions=f"{mark} decisions")
            s.add(meeting)
            await s.flush()
            s.add(MeetingRsvp(meeting_id=meeting.id, person_id=ann.id, answer="no",
                              note=f"{mark} can't come", answered_at=when))
            s.add(MeetingRsvpChange(meeting_id=meeting.id, person_id=ann.id, answer="no",
                                    note=f"{mark} changed", answered_at=when))
            s.add(CatchUp(person_id=ann.id, week=f"{when:%G-W%V}", answer=f"{mark} catch-up",
                          answered_at=when))
            event = audit(s, ann, "file_feedback", target=f, before={"summary": f"{mark} x"},
                          after={"summary": f"{mark} y"}, reason=f"{mark} because")
            event.at = when
            await s.flush()
            ids[mark] = f.id
            ids[f"{mark}-grant"] = g.id
        # Not yet delivered, however old: still to be sent, so it keeps its text.
        s.add(Outbox(transport="telegram", destination=str(ann.telegram_id), event="waiting",
                     payload={"text": "still to send"}, status="pending",
                     created_at=NOW - dt.timedelta(days=3000)))
        s.add(FundLedgerEntry(fund_id=1, grant_id=ids[f"{OLD}-grant"], amount_pence=10_000,
                              note=f"{OLD} club grant", created_at=NOW - dt.timedelta(days=3000)))
    return ids


async def _everything(db) -> str:
    """Every value of every column of every table, JSON as text."""
    found = []
    async with db.transaction() as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(select(table))).all():
                found.append(json.dumps([table.name, *row], default=str, ensure_ascii=False))
    return "\n".join(found)


def _media_files(store: MediaStore) -> list[str]:
    return sorted(str(p) for p in store.root.rglob("*") if p.is_file())


async def test_retention_leaves_no_expired_text_anywhere(db, scheme, cast, tmp_path) -> None:
    store = MediaStore(tmp_path / "media")
    ids = await seed(db, cast, store)
    assert OLD in await _everything(db)

    plan = await enforce_retention(db, scheme, now=NOW, dry_run=True, media_dir=store.root)
    assert OLD in await _everything(db)                  # a dry run changes nothing
    assert len(_media_files(store)) == 6
    done = await enforce_retention(db, scheme, now=NOW, media_dir=store.root)

    everything = await _everything(db)
    leftovers = [line[:120] for line in everything.splitlines() if OLD in line]
    assert leftovers == []
    assert [f for f in _media_files(store) if OLD in open(f, encoding="utf-8").read()] == []
    assert len(_media_files(store)) == 3                 # last month's photo is kept
    assert everything.count(RECENT) >= 20                # and everything recent
    assert done.counts() == plan.counts()
    assert done.summary(scheme, done=True) == plan.summary(scheme).replace(
        "would remove", "removed")

    async with db.transaction() as s:
        old = await s.get(Feedback, ids[OLD])
        assert (old.summary, old.outcomes, old.attendees) == (REMOVED, None, 12)
        message = (await s.scalars(select(Outbox).where(Outbox.event == "feedback_filed")
                                   .order_by(Outbox.id))).first()
        # the fact of delivery stays: who it went to, when, and that it arrived
        assert (message.payload, message.status, message.sent_at) == (
            {"text": REMOVED}, "sent", NOW - dt.timedelta(days=3000))
        waiting = await s.scalar(select(Outbox).where(Outbox.event == "waiting"))
        assert waiting.payload == {"text": "still to send"}
        line = await s.scalar(select(AuditEvent).where(AuditEvent.action == "file_feedback")
                              .order_by(AuditEvent.id))
        assert (line.action, line.actor_id, line.before, line.reason) == (
            "file_feedback", cast.ambassador.id, None, None)
        drafts = (await s.scalars(select(FormDraft.form))).all()
        assert drafts == [f"feedback-{RECENT}"]
        report = (await s.scalars(select(Outbox).where(
            Outbox.event == "retention_report"))).one()
    assert report.payload["text"] == done.summary(scheme, done=True)
    assert report.destination == scheme.channels.alerts

    again = await enforce_retention(db, scheme, now=NOW + dt.timedelta(days=1),
                                    media_dir=store.root)
    assert again.empty


async def test_dry_run_and_job_say_the_same_sentence(db, scheme, cast, tmp_path) -> None:
    store = MediaStore(tmp_path / "media")
    await seed(db, cast, store)
    plan = await enforce_retention(db, scheme, now=NOW, dry_run=True, media_dir=store.root)
    sentence = plan.summary(scheme)
    assert sentence.startswith("Retention would remove the personal data past its period from ")
    assert "1 feedback reports (1,095 days)" in sentence
    assert "1 photos or videos (730 days, 3 files)" in sentence
    assert "delivered messages (30 days)" in sentence
    done = await enforce_retention(db, scheme, now=NOW, media_dir=store.root)
    assert done.summary(scheme, done=True) == sentence.replace("would remove", "removed")


async def test_a_photo_sent_again_keeps_its_files_for_the_later_record(db, scheme, cast,
                                                                         tmp_path) -> None:
    """Files are named by content: when the same photo was sent again last month, the old
    record loses its caption and ids but the files the new record shows stay."""
    store = MediaStore(tmp_path / "media")
    await seed(db, cast, store)
    async with db.transaction() as s:
        old, recent = (await s.scalars(select(Media).order_by(Media.id))).all()
        again = Media(engagement_id=recent.engagement_id, ambassador_id=recent.ambassador_id,
                      kind="photo", content_hash=old.content_hash, safe_path=old.safe_path,
                      thumb_path=old.thumb_path, created_at=NOW - dt.timedelta(days=3))
        s.add(again)
        old_id, shown = old.id, [old.safe_path, old.thumb_path]
    plan = await enforce_retention(db, scheme, now=NOW, media_dir=store.root)
    assert old_id in plan.ids("media") and not set(shown) & set(plan.files)
    assert all(Path(p).is_file() for p in shown)
    async with db.transaction() as s:
        assert (await s.get(Media, old_id)).caption is None
