"""A rich history for the erasure and redaction tests, and a dump of the whole database and
media directory to search: every table (all columns, JSON as text) and every file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
from pathlib import Path

from PIL import Image
from sqlalchemy import select, update

from storage import outbox
from storage.media.store import MediaStore
from storage.models import Base, Invite, Outbox, OutboxStatus
from storage.operations import drafts, engagements, feedback, grants, hours, media, people
from storage.operations.reminders import claim_mark
from tests.storage.seed import NOW, Cast

PUBLIC_NAME = "John Smith"
# The member of the public's phone, written three ways, and e-mail.
PHONE_IN_FEEDBACK = "07700 900123"
PHONE_IN_CAPTION = "+44 7700 900123"
PHONE_IN_GRANT = "07700900123"
PUBLIC_EMAIL = "John.Smith@Example.org"


@dataclasses.dataclass
class History:
    cast: Cast
    engagement_id: int
    follow_up_id: int
    media_id: int
    grant_id: int
    photo_files: list[Path]
    ann_texts: list[str]


def _jpeg(seed: int) -> bytes:
    image = Image.new("RGB", (64, 48), (seed * 40 % 256, 120, 200))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


async def rich_history(db, scheme, media_root: Path) -> History:
    cast = await Cast.create(db, scheme)
    store = MediaStore(media_root, keep_originals=True)
    ann_texts = [
        "Ann's parish meeting at Lyonshall",
        "Lyonshall Village Hall, Church Lane",
        f"Farmer {PUBLIC_NAME} of Lyonshall Farm raised speeding on the B4355 near the chapel; "
        f"he asked to be rung on {PHONE_IN_FEEDBACK}",
        "Speed watch volunteers recruited at the hall door",
        "Ring the parish clerk about the broken streetlight by the chapel",
        "Sorting leaflets for the Lyonshall speed watch",
        f"Farmer {PUBLIC_NAME} at his gate ({PHONE_IN_CAPTION})",
        "AgACAgQAAxkBAAIB-ann-photo-file-id",
        "Half-typed story about the Kington road for the next report",
    ]
    async with db.transaction() as s:
        ann = await people.get_person(s, cast.ambassador.id)
        admin = await people.get_person(s, cast.admin.id)
        invite = await people.do_create_invite(s, scheme, name=ann.name, role="ambassador",
                                               area="Shropshire", actor=admin, now=NOW)
        await s.execute(update(Invite).where(Invite.id == invite.id)
                        .values(used_at=NOW, used_by_id=ann.id))
        e = await engagements.do_prenotify_engagement(
            s, scheme, title=ann_texts[0], kind="Community event", place=ann_texts[1],
            starts_at=NOW - dt.timedelta(days=1), ends_at=NOW - dt.timedelta(hours=22),
            after_the_fact=True, actor=ann, now=NOW)
        f = await feedback.do_file_feedback(
            s, scheme, engagement_id=e.id, attendees=12, summary=ann_texts[2],
            outcomes=ann_texts[3], follow_up_needed="office", follow_up_detail=ann_texts[4],
            urgency="attention", actor=ann, now=NOW)
        await hours.do_log_hours(s, worked_on=NOW.date(), minutes=45,
                                 description=ann_texts[5], actor=ann, today=NOW.date())
        g = await grants.do_recommend_grant(
            s, scheme, applicant_organisation="Lyonshall Speed Watch",
            applicant_contact=f"{PUBLIC_NAME}, {PHONE_IN_GRANT}, {PUBLIC_EMAIL}",
            project="Two speed guns for the village", amount_pence=20_000,
            objectives=[scheme.plan_objectives[0]], actor=ann, now=NOW)
        await grants.do_refer_grant(s, scheme, grant_id=g.id,
                                    actor=await people.get_person(s, cast.commissioning.id))
        await grants.do_approve_grant(s, scheme, grant_id=g.id,
                                      actor=await people.get_person(s, cast.commissioner.id))
        await claim_mark(s, f"delivery_failed:telegram:{ann.telegram_id}", now=NOW)
        engagement_id, grant_id = e.id, g.id
        follow_up_id = f.id
    # Bob's records, which erasing Ann must leave alone.
    async with db.transaction() as s:
        bob = await people.get_person(s, cast.other_ambassador.id)
        e2 = await engagements.do_prenotify_engagement(
            s, scheme, title="Bob's market stall", kind="Community event", place="Town hall",
            starts_at=NOW - dt.timedelta(days=1), ends_at=NOW - dt.timedelta(hours=22),
            after_the_fact=True, actor=bob, now=NOW)
        await feedback.do_file_feedback(
            s, scheme, engagement_id=e2.id, attendees=5, summary="Bob Hereford met people",
            follow_up_needed="office", follow_up_detail="Call back", urgency="routine",
            actor=bob, now=NOW)
    # What went so far has been delivered; what follows waits in the outbox.
    async with db.transaction() as s:
        await s.execute(update(Outbox).values(status=OutboxStatus.SENT.value, sent_at=NOW))
    processed = store.add_photo(_jpeg(1))
    photo_files = store.files_of(processed.content_hash)
    async with db.transaction() as s:
        ann = await people.get_person(s, cast.ambassador.id)
        m = await media.do_record_media(
            s, scheme, engagement_id=engagement_id, kind="photo", consent_given=True,
            children_present=False, telegram_file_id=ann_texts[7],
            content_hash=processed.content_hash, safe_path=str(processed.safe_path),
            thumb_path=str(processed.thumb_path), caption=ann_texts[6], actor=ann)
        outbox.to_person(s, ann, "note", f"{ann.name}, thank you for {ann_texts[0]}")
        await drafts.save_draft(s, scheme, ann, "telegram", "feedback",
                                {"form": "feedback", "answers": {"summary": ann_texts[8]}},
                                now=NOW)
        follow_up = (await s.execute(select(Base.metadata.tables["follow_ups"].c.id).where(
            Base.metadata.tables["follow_ups"].c.feedback_id == follow_up_id))).scalar_one()
        media_id = m.id
    return History(cast, engagement_id, follow_up, media_id, grant_id, photo_files, ann_texts)


async def dump_database(db) -> list[tuple[str, str]]:
    """(table, row as text) for every row of every table."""
    rows = []
    async with db.transaction() as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(select(table))).all():
                text = json.dumps({k: v for k, v in row._mapping.items()}, default=str,
                                  ensure_ascii=False)
                rows.append((table.name, text))
    return rows


def dump_files(root: Path) -> list[tuple[str, str]]:
    """(relative path, sha256) of every file under the media directory."""
    return [(str(p.relative_to(root)), hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*")) if p.is_file()]
