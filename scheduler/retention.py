"""Retention (DESIGN §9): the daily job that removes what the scheme says not to keep.

What goes is read from the map of personal data (storage/personal_data.py): every entry names
the scheme setting that governs it, and each table below says only *when* one of its rows is
old enough (and settled enough) for those settings to apply. The columns cleared are the
map's, so a new personal column with a retention key is removed without touching this file;
a table with retained data but no `Sweep` here fails tests/scheduler/test_retention_map.py.

Past its period free text becomes a placeholder (or nothing, where the column allows), media
files are deleted (the record of the photo and its review stays), a settled message keeps the
fact of its delivery, its times and ids but loses its text and data, audit lines keep who,
what and when but lose before/after values and reasons, and abandoned drafts go. Records
themselves stay, so the figures in digests, reports and extracts do not change.
`retention_plan` is the dry run; the job and the dry run say the same sentence of one plan.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, ColumnElement, Text, and_, cast, delete, func, null, or_, select, \
    update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage import personal_data as pd
from storage.audit import audit
from storage.db import Database
from storage.media.store import MediaStore
from storage.models import (AuditEvent, CatchUp, Engagement, ExpenseClaim, ExpenseStatus,
                            Feedback, FollowUp, FollowUpStatus, FormDraft, FundLedgerEntry,
                            GrantRecommendation, GrantStatus, HoursEntry, Invite, Media, Meeting,
                            MeetingRsvp, MeetingRsvpChange, Outbox, OutboxStatus, utcnow)
from storage.scheme import Scheme

log = logging.getLogger(__name__)

REMOVED = "[removed after the retention period]"


def _has_json(column: Any) -> ColumnElement[bool]:
    # JSON None is stored as the JSON value null, not SQL NULL; compare as text on both DBs.
    return func.coalesce(cast(column, Text), "null") != "null"


@dataclass(frozen=True)
class Sweep:
    """One table's rule for when its rows are past a period: `age` is the moment the period
    counts from, `settled` (when given) keeps what the office still works on (an open
    follow-up, a claim not yet paid, a message not yet delivered)."""
    table: str
    key: str                     # the map's retention key, e.g. "retention.media_days"
    noun: str                    # "feedback reports", as the summary says it
    age: Any
    settled: Any = None
    delete_rows: bool = False

    @property
    def fields(self) -> list[pd.PersonalField]:
        return [f for f in pd.entries_for(self.table) if f.retention == self.key]

    @property
    def model_table(self) -> Any:
        return self.fields[0].column_object().table

    def days(self, scheme: Scheme) -> int:
        return retention_days(scheme, self.key)

    def file_columns(self) -> list[Any]:
        return [f.column_object() for f in self.fields if f.kind is pd.Kind.MEDIA_FILE
                and f.column.endswith("_path")]

    def holds(self) -> ColumnElement[bool]:
        """Rows still holding something this sweep would remove."""
        tests = []
        for f in self.fields:
            column = f.column_object()
            if isinstance(column.type, JSON):
                tests.append(func.coalesce(column["text"].as_string(), "") != REMOVED
                             if not column.nullable else _has_json(column))
            elif column.nullable:
                tests.append(column.isnot(None))
            else:
                tests.append(column != REMOVED)
        return or_(*tests)

    def cleared(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for f in self.fields:
            column = f.column_object()
            if isinstance(column.type, JSON):
                values[column.name] = null() if column.nullable else {"text": REMOVED}
            else:
                values[column.name] = None if column.nullable else REMOVED
        return values


FEEDBACK_DAYS = "retention.feedback_free_text_days"
SETTLED_MESSAGES = (OutboxStatus.SENT.value, OutboxStatus.FAILED.value,
                    OutboxStatus.UNKNOWN.value)
SETTLED_GRANTS = (GrantStatus.APPROVED.value, GrantStatus.REJECTED.value,
                  GrantStatus.WITHDRAWN.value)
SETTLED_CLAIMS = (ExpenseStatus.PAID.value, ExpenseStatus.REJECTED.value)

SWEEPS: tuple[Sweep, ...] = (
    Sweep("feedback", FEEDBACK_DAYS, "feedback reports", Feedback.submitted_at),
    Sweep("follow_ups", FEEDBACK_DAYS, "closed follow-ups", FollowUp.created_at,
          FollowUp.status == FollowUpStatus.DONE.value),
    Sweep("engagements", FEEDBACK_DAYS, "engagements", Engagement.starts_at,
          Engagement.status != "planned"),
    Sweep("meetings", FEEDBACK_DAYS, "meetings' notes", Meeting.starts_at),
    Sweep("meeting_rsvps", FEEDBACK_DAYS, "meeting replies", MeetingRsvp.answered_at),
    Sweep("meeting_rsvp_changes", FEEDBACK_DAYS, "changes of reply",
          MeetingRsvpChange.answered_at),
    Sweep("catch_ups", FEEDBACK_DAYS, "catch-up answers", CatchUp.answered_at),
    Sweep("media", "retention.media_days", "photos or videos", Media.created_at),
    Sweep("grant_recommendations", "retention.finance_days", "decided grants",
          GrantRecommendation.updated_at, GrantRecommendation.status.in_(SETTLED_GRANTS)),
    Sweep("fund_ledger", "retention.finance_days", "fund ledger lines",
          FundLedgerEntry.created_at),
    Sweep("hours_entries", "retention.finance_days", "hours entries", HoursEntry.created_at),
    Sweep("expense_claims", "retention.finance_days", "settled expense claims",
          ExpenseClaim.created_at, ExpenseClaim.status.in_(SETTLED_CLAIMS)),
    Sweep("invites", "retention.invite_days", "invites", Invite.expires_at),
    Sweep("outbox", "retention.delivered_message_days", "delivered messages",
          func.coalesce(Outbox.sent_at, Outbox.created_at),
          Outbox.status.in_(SETTLED_MESSAGES)),
    Sweep("audit_events", "retention.audit_detail_days", "audit lines", AuditEvent.at),
    Sweep("form_drafts", "limits.draft_expiry_days", "abandoned drafts", FormDraft.updated_at,
          delete_rows=True),
)


def retention_days(scheme: Scheme, key: str) -> int:
    """The number of days a dotted key of the map names in the scheme."""
    value: Any = scheme
    for part in key.split("."):
        value = getattr(value, part)
    return int(value)


@dataclass
class Swept:
    sweep: Sweep
    ids: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


@dataclass
class RetentionPlan:
    """What is (or would be) removed, sweep by sweep: row ids and the files on disk."""
    swept: list[Swept] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(s.ids for s in self.swept)

    @property
    def files(self) -> list[str]:
        return [name for s in self.swept for name in s.files]

    def ids(self, table: str) -> list[int]:
        return [i for s in self.swept if s.sweep.table == table for i in s.ids]

    def counts(self) -> dict[str, int]:
        return {s.sweep.table: len(s.ids) for s in self.swept if s.ids}

    def summary(self, scheme: Scheme, *, done: bool = False) -> str:
        """One sentence, the same for the dry run ("would remove") and the job ("removed")."""
        if self.empty:
            return "Retention: nothing is past its retention period."
        parts = []
        for s in self.swept:
            if not s.ids:
                continue
            files = f", {len(s.files):,} files" if s.files else ""
            parts.append(f"{len(s.ids):,} {s.sweep.noun} ({s.sweep.days(scheme):,} days{files})")
        verb = "removed" if done else "would remove"
        return (f"Retention {verb} the personal data past its period from "
                + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] + ".")


def _key(table: Any) -> list[Any]:
    return list(table.primary_key.columns)


def _rows_named(table: Any, keys: list[Any]) -> ColumnElement[bool]:
    """The rows with these primary keys (a value each, or a tuple for a composite key)."""
    columns = _key(table)
    if len(columns) == 1:
        return columns[0].in_(keys)
    return or_(*[and_(*[c == v for c, v in zip(columns, key, strict=True)]) for key in keys])


async def _still_shown(session: AsyncSession, table: Any, rows: list[Any],
                       width: int) -> set[str]:
    """Hashes of expiring rows whose files another, younger row still shows (files are named
    by content, so one photo sent twice has one set of files)."""
    hashes = {row[-1] for row in rows if row[-1]}
    if not hashes:
        return set()
    expiring = [row[0] for row in rows]
    key = _key(table)[0]
    found = set()
    listed = sorted(hashes)
    for chunk in range(0, len(listed), 500):
        found |= set((await session.scalars(
            select(table.c.content_hash).where(table.c.content_hash.in_(
                listed[chunk:chunk + 500])).where(key.not_in(expiring)).distinct())).all())
    return found


async def retention_plan(session: AsyncSession, scheme: Scheme, *,
                         now: dt.datetime | None = None,
                         media_dir: Path | None = None) -> RetentionPlan:
    """The dry run: everything past its period that still holds what should go."""
    now = now or utcnow()
    store = MediaStore(media_dir) if media_dir is not None else None
    plan = RetentionPlan()
    for sweep in SWEEPS:
        table = sweep.model_table
        before = now - dt.timedelta(days=sweep.days(scheme))
        files = sweep.file_columns()
        hashes = [table.c.content_hash] if "content_hash" in table.c else []
        rows = (await session.execute(
            select(*_key(table), *files, *hashes)
            .where(and_(sweep.age < before, sweep.holds(),
                        *([sweep.settled] if sweep.settled is not None else [])))
            .order_by(*_key(table)))).all()
        swept = Swept(sweep)
        width = len(_key(table))
        shared = await _still_shown(session, table, rows, width) if hashes else set()
        for row in rows:
            swept.ids.append(row[0] if width == 1 else tuple(row[:width]))
            if hashes and row[-1] in shared:
                continue          # the same photo sent again later: its files stay for that
            paths = [p for p in row[width:width + len(files)] if p]
            if store is not None and hashes and row[-1]:
                # originals (when the scheme keeps them) and video files live by hash only
                paths += [str(p) for p in store.files_of(row[-1]) if str(p) not in paths]
            swept.files += paths
        plan.swept.append(swept)
    return plan


async def do_enforce_retention(session: AsyncSession, scheme: Scheme, *,
                               now: dt.datetime | None = None,
                               media_dir: Path | None = None) -> RetentionPlan:
    """Remove what is past its period; returns the plan carried out. The files listed in it
    are deleted by the caller after commit (a rolled-back change keeps its files)."""
    plan = await retention_plan(session, scheme, now=now, media_dir=media_dir)
    if plan.empty:
        return plan
    for swept in plan.swept:
        if not swept.ids:
            continue
        table = swept.sweep.model_table
        for chunk in range(0, len(swept.ids), 500):
            ids = swept.ids[chunk:chunk + 500]
            if swept.sweep.delete_rows:
                await session.execute(delete(table).where(_rows_named(table, ids)))
            else:
                await session.execute(update(table).where(_rows_named(table, ids))
                                      .values(**swept.sweep.cleared()))
    counts = plan.counts()
    audit(session, None, "enforce_retention", actor_label="scheduler",
          after={**counts, "files": len(plan.files)})
    outbox.to_channel(session, scheme, "alerts", "retention_report",
                      plan.summary(scheme, done=True), data={"removed": counts})
    return plan


async def enforce_retention(db: Database, scheme: Scheme, *, now: dt.datetime | None = None,
                            dry_run: bool = False,
                            media_dir: Path | None = None) -> RetentionPlan:
    """The daily job: one transaction, then the files, once the database has agreed."""
    async with db.transaction() as session:
        if dry_run:
            return await retention_plan(session, scheme, now=now, media_dir=media_dir)
        plan = await do_enforce_retention(session, scheme, now=now, media_dir=media_dir)
    for name in plan.files:
        try:
            Path(name).unlink(missing_ok=True)
        except OSError as error:
            log.warning("retention: could not delete a file (%s)", error.strerror)
    return plan
