"""Subject-access requests (DESIGN §9): every record about one person, and nobody else's.

A person appears as the subject of their own record, as the ambassador behind engagements,
feedback, media, grants, hours and expenses, as a named contact on a grant (matched by name
or email in the contact text), as the officer who acted (audit trail, follow-ups, reviews),
and as the addressee of messages.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound
from storage.models import (AuditEvent, Base, Engagement, ExpenseClaim, Feedback, FollowUp,
                            FormDraft, GrantRecommendation, HoursEntry, Invite, Media,
                            MeetingRsvp, Outbox, Person)
from storage.outbox import person_address


def _row(record: Base) -> dict[str, Any]:
    values = {}
    for column in record.__table__.columns:
        value = getattr(record, column.key)
        if isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        elif isinstance(value, enum.Enum):
            value = value.value
        values[column.key] = value
    return values


async def _all(session: AsyncSession, statement: Any) -> list[dict[str, Any]]:
    return [_row(r) for r in (await session.scalars(statement)).unique().all()]


async def subject_access_records(session: AsyncSession, person_id: int) -> dict[str, Any]:
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"There is no person with id {person_id}.")
    pid = person.id
    named = [person.name] + ([person.email] if person.email else [])
    contact_match = or_(*[GrantRecommendation.applicant_contact.ilike(f"%{n}%") for n in named])
    address = person_address(person)
    records: dict[str, Any] = {
        "person": _row(person),
        "invites": await _all(session, select(Invite).where(or_(
            Invite.used_by_id == pid, Invite.created_by_id == pid)).order_by(Invite.id)),
        "engagements": await _all(session, select(Engagement).where(
            Engagement.ambassador_id == pid).order_by(Engagement.id)),
        "feedback": await _all(session, select(Feedback).where(
            Feedback.ambassador_id == pid).order_by(Feedback.id)),
        "follow_ups": await _all(session, select(FollowUp).where(or_(
            FollowUp.owner_id == pid, FollowUp.acknowledged_by_id == pid,
            FollowUp.done_by_id == pid,
            FollowUp.engagement_id.in_(select(Engagement.id).where(
                Engagement.ambassador_id == pid)))).order_by(FollowUp.id)),
        "media": await _all(session, select(Media).where(or_(
            Media.ambassador_id == pid, Media.reviewed_by_id == pid)).order_by(Media.id)),
        "grants_recommended": await _all(session, select(GrantRecommendation).where(
            GrantRecommendation.ambassador_id == pid).order_by(GrantRecommendation.id)),
        "grants_decided": await _all(session, select(GrantRecommendation).where(or_(
            GrantRecommendation.decided_by_id == pid,
            GrantRecommendation.scrutinised_by_id == pid)).order_by(GrantRecommendation.id)),
        "grants_as_named_contact": await _all(session, select(GrantRecommendation).where(
            contact_match).order_by(GrantRecommendation.id)),
        "hours": await _all(session, select(HoursEntry).where(
            HoursEntry.person_id == pid).order_by(HoursEntry.id)),
        "expenses": await _all(session, select(ExpenseClaim).where(or_(
            ExpenseClaim.person_id == pid, ExpenseClaim.decided_by_id == pid))
            .order_by(ExpenseClaim.id)),
        "meeting_replies": await _all(session, select(MeetingRsvp).where(
            MeetingRsvp.person_id == pid)),
        "form_drafts": await _all(session, select(FormDraft).where(FormDraft.person_id == pid)),
        "audit_trail": await _all(session, select(AuditEvent).where(or_(
            AuditEvent.actor_id == pid,
            (AuditEvent.target_type == "people") & (AuditEvent.target_id == pid)))
            .order_by(AuditEvent.id)),
        "messages_to_them": await _all(session, select(Outbox).where(
            (Outbox.transport == address[0]) & (Outbox.destination == address[1]))
            .order_by(Outbox.id)) if address else [],
    }
    return records


def _summary(records: dict[str, Any]) -> str:
    person = records["person"]
    lines = [f"Subject-access bundle for {person['name']} (person {person['id']})",
             f"Prepared {dt.datetime.now(dt.UTC):%d %B %Y %H:%M} UTC", "",
             "What we hold, by kind of record:"]
    for kind, rows in records.items():
        if kind != "person":
            lines.append(f"  {kind.replace('_', ' ')}: {len(rows)}")
    lines += ["", "records.json holds every field of every record; media/ holds the photos "
              "and videos this person sent or that show their engagements."]
    return "\n".join(lines) + "\n"


def write_bundle(records: dict[str, Any], out: Path, media_root: Path | None = None) -> int:
    """Write the zip: records.json, summary.txt and the media files. Returns files written."""
    count = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("records.json", json.dumps(records, indent=2, ensure_ascii=False,
                                                   default=str))
        bundle.writestr("summary.txt", _summary(records))
        count += 2
        for item in records["media"]:
            for key in ("safe_path", "thumb_path"):
                path = item.get(key)
                if path and Path(path).is_file():
                    bundle.write(path, f"media/{item['id']}-{Path(path).name}")
                    count += 1
    return count
