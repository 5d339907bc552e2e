"""Retention (DESIGN §9): the daily job that removes what the scheme says not to keep.

The scheme file's `retention` periods say how long feedback free text, processed media files
and the detail of audit lines are kept. Past that, the free text becomes a placeholder, media
files are deleted (the record of the photo and its review stays), and audit lines keep who,
what and when but lose before/after values and reasons. Records themselves stay, so the
figures in digests and extracts do not change. `retention_plan` is the dry run: what would go.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, func, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit
from storage.db import Database
from storage.models import AuditEvent, Feedback, FollowUp, FollowUpStatus, Media, utcnow
from storage.scheme import Scheme

log = logging.getLogger(__name__)

REMOVED = "[removed after the retention period]"


@dataclass
class RetentionPlan:
    """What is (or would be) removed: ids of records losing free text or files, and counts."""
    feedback_ids: list[int] = field(default_factory=list)
    follow_up_ids: list[int] = field(default_factory=list)
    media_ids: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    audit_lines: int = 0

    @property
    def empty(self) -> bool:
        return not (self.feedback_ids or self.media_ids or self.audit_lines
                    or self.follow_up_ids)

    def summary(self, scheme: Scheme) -> str:
        r = scheme.retention
        if self.empty:
            return "Retention: nothing is past its retention period."
        return (f"Retention: the free text of {len(self.feedback_ids):,} feedback reports and "
                f"{len(self.follow_up_ids):,} closed follow-ups (older than "
                f"{r.feedback_free_text_days:,} days), {len(self.media_ids):,} photos or videos "
                f"({len(self.files):,} files, older than {r.media_days:,} days), and the detail "
                f"of {self.audit_lines:,} audit lines (older than {r.audit_detail_days:,} "
                "days).")


def _has_json(column: Any) -> Any:
    # JSON None is stored as the JSON value null, not SQL NULL; compare as text on both DBs.
    return func.coalesce(cast(column, Text), "null") != "null"


def _cutoffs(scheme: Scheme, now: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    r = scheme.retention
    return (now - dt.timedelta(days=r.feedback_free_text_days),
            now - dt.timedelta(days=r.media_days), now - dt.timedelta(days=r.audit_detail_days))


async def retention_plan(session: AsyncSession, scheme: Scheme, *,
                         now: dt.datetime | None = None) -> RetentionPlan:
    """The dry run: everything past its period that still holds what should go."""
    feedback_before, media_before, audit_before = _cutoffs(scheme, now or utcnow())
    plan = RetentionPlan()
    plan.feedback_ids = list((await session.scalars(
        select(Feedback.id).where(Feedback.submitted_at < feedback_before,
                                  Feedback.summary != REMOVED).order_by(Feedback.id))).all())
    plan.follow_up_ids = list((await session.scalars(
        select(FollowUp.id).join(Feedback, Feedback.id == FollowUp.feedback_id)
        .where(Feedback.submitted_at < feedback_before,
               FollowUp.status == FollowUpStatus.DONE.value, FollowUp.detail != REMOVED)
        .order_by(FollowUp.id))).all())
    for media_id, safe, thumb in (await session.execute(
            select(Media.id, Media.safe_path, Media.thumb_path)
            .where(Media.created_at < media_before,
                   or_(Media.safe_path.isnot(None), Media.thumb_path.isnot(None),
                       Media.telegram_file_id.isnot(None)))
            .order_by(Media.id))).all():
        plan.media_ids.append(media_id)
        plan.files += [p for p in (safe, thumb) if p]
    plan.audit_lines = await session.scalar(
        select(func.count()).select_from(AuditEvent)
        .where(AuditEvent.at < audit_before,
               or_(AuditEvent.reason.isnot(None), _has_json(AuditEvent.before),
                   _has_json(AuditEvent.after))))
    return plan


async def do_enforce_retention(session: AsyncSession, scheme: Scheme, *,
                               now: dt.datetime | None = None) -> RetentionPlan:
    """Remove what is past its period; returns the plan carried out. The media files listed
    in it are deleted by the caller after commit (a rolled-back change keeps its files)."""
    now = now or utcnow()
    plan = await retention_plan(session, scheme, now=now)
    if plan.empty:
        return plan
    _, _, audit_before = _cutoffs(scheme, now)
    if plan.feedback_ids:
        await session.execute(update(Feedback).where(Feedback.id.in_(plan.feedback_ids))
                              .values(summary=REMOVED, outcomes=None, follow_up_detail=None)
                              .execution_options(synchronize_session=False))
    if plan.follow_up_ids:
        await session.execute(update(FollowUp).where(FollowUp.id.in_(plan.follow_up_ids))
                              .values(detail=REMOVED)
                              .execution_options(synchronize_session=False))
    if plan.media_ids:
        await session.execute(update(Media).where(Media.id.in_(plan.media_ids))
                              .values(safe_path=None, thumb_path=None, telegram_file_id=None,
                                      caption=None)
                              .execution_options(synchronize_session=False))
    if plan.audit_lines:
        await session.execute(update(AuditEvent)
                              .where(AuditEvent.at < audit_before,
                                     or_(AuditEvent.reason.isnot(None),
                                         _has_json(AuditEvent.before),
                                         _has_json(AuditEvent.after)))
                              .values(before=null(), after=null(), reason=None)
                              .execution_options(synchronize_session=False))
    audit(session, None, "enforce_retention", actor_label="scheduler",
          after={"feedback": len(plan.feedback_ids), "follow_ups": len(plan.follow_up_ids),
                 "media": len(plan.media_ids), "audit_lines": plan.audit_lines})
    outbox.to_channel(session, scheme, "alerts", "retention_report",
                      plan.summary(scheme).replace("Retention: ", "Retention: removed "),
                      data={"feedback": len(plan.feedback_ids), "media": len(plan.media_ids),
                            "audit_lines": plan.audit_lines})
    return plan


async def enforce_retention(db: Database, scheme: Scheme, *, now: dt.datetime | None = None,
                            dry_run: bool = False) -> RetentionPlan:
    """The daily job: one transaction, then the files, once the database has agreed."""
    async with db.transaction() as session:
        if dry_run:
            return await retention_plan(session, scheme, now=now)
        plan = await do_enforce_retention(session, scheme, now=now)
    for name in plan.files:
        try:
            Path(name).unlink(missing_ok=True)
        except OSError as error:
            log.warning("retention: could not delete %s: %s", name, error.strerror)
    return plan
