"""The scheduled jobs (DESIGN §4 "Schedules"): what runs, on which of the scheme's schedules.

Each job is an async function of a `JobContext` (database, scheme, the time it runs at) and is
idempotent: what it sends is recorded as a ScheduleMark in the same transaction as the outbox
row, so running it twice — after a restart, on a second machine during a hand-over — sends
once. Each step runs in its own transaction, so a failure in one does not undo the others.

The runner (scheduler/runner.py) decides *when*; this module decides *what*.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scheduler import digest as digest_module
from scheduler.retention import enforce_retention
from storage.db import Database
from storage.operations import meeting_series, reminders
from storage.operations import escalation as escalations
from storage.scheme import Scheme

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """What a job needs, passed in by the runner (nothing is looked up from globals)."""
    db: Database
    scheme: Scheme
    now: dt.datetime
    chart_dir: Path = field(default_factory=lambda: Path("media") / "charts")


async def weekly_digest(ctx: JobContext) -> int:
    """The digest of the last complete week, to the digest channel and each Commissioner."""
    await digest_module.post_digest(ctx.db, ctx.scheme, None, False, now=ctx.now,
                                    chart_dir=ctx.chart_dir, once=True)
    return 1


async def weekly_catch_up(ctx: JobContext) -> int:
    """This week's catch-up question to every ambassador who can be reached."""
    async with ctx.db.transaction() as session:
        return len(await reminders.do_ask_catch_up(session, ctx.scheme, now=ctx.now))


async def monthly_hours_summary(ctx: JobContext) -> int:
    """Last month's hours against the commitment, to every ambassador who can be reached."""
    async with ctx.db.transaction() as session:
        return len(await reminders.do_send_hours_summaries(session, ctx.scheme, now=ctx.now))


async def hourly_reminders(ctx: JobContext) -> int:
    """The scheme's meetings of the coming quarter put in the diary (invitations with them);
    feedback nudges and meeting reminders; and whatever people back from being away missed
    this week or month (the catch-up question, the hours summary)."""
    async with ctx.db.transaction() as session:
        await meeting_series.do_plan_meetings(session, ctx.scheme, now=ctx.now)
    sent = 0
    for step in (reminders.do_nudge_feedback, reminders.do_remind_meetings):
        async with ctx.db.transaction() as session:
            sent += len(await step(session, ctx.scheme, now=ctx.now))
    for late in (reminders.do_ask_catch_up, reminders.do_send_hours_summaries):
        async with ctx.db.transaction() as session:
            sent += len(await late(session, ctx.scheme, now=ctx.now, only_if_started=True))
    return sent


async def overdue_follow_ups(ctx: JobContext) -> int:
    """Follow-ups past their due time, listed once a day in the alerts channel."""
    async with ctx.db.transaction() as session:
        row = await reminders.do_alert_overdue_follow_ups(session, ctx.scheme, now=ctx.now)
    return int(row is not None)


async def retention(ctx: JobContext) -> int:
    """Remove what is past the scheme's retention periods (DESIGN §9)."""
    # Media live beside the charts (both under MEDIA_DIR); originals are found by hash there.
    plan = await enforce_retention(ctx.db, ctx.scheme, now=ctx.now,
                                   media_dir=ctx.chart_dir.parent)
    if not plan.empty:
        log.info("%s", plan.summary(ctx.scheme, done=True))
    return sum(plan.counts().values())


async def escalation(ctx: JobContext) -> int:
    """Urgent items nobody has acknowledged in the scheme's office hours, to the next person
    in the scheme's chain (each step once, however often this runs)."""
    async with ctx.db.transaction() as session:
        return len(await escalations.do_escalate_unacknowledged(session, ctx.scheme,
                                                                now=ctx.now))


@dataclass(frozen=True)
class JobSpec:
    id: str
    schedule: str                                  # the field of scheme.schedules
    run: Callable[[JobContext], Awaitable[Any]]


JOBS: tuple[JobSpec, ...] = (
    JobSpec("weekly_digest", "weekly_digest", weekly_digest),
    JobSpec("weekly_catch_up", "weekly_catch_up", weekly_catch_up),
    JobSpec("monthly_hours_summary", "monthly_hours_summary", monthly_hours_summary),
    JobSpec("reminders", "feedback_nudges", hourly_reminders),
    JobSpec("overdue_follow_ups", "overdue_follow_ups", overdue_follow_ups),
    JobSpec("retention", "retention", retention),
    JobSpec("escalation", "escalation", escalation),
)
JOBS_BY_ID = {job.id: job for job in JOBS}


def fire() -> None:
    """The function APScheduler stores for every job (it needs an importable reference).

    Jobs never run through it: the runner's executor runs `JOBS_BY_ID[job.id]` with a
    JobContext instead, so nothing is found through a global.
    """
    raise RuntimeError("scheduled jobs run through scheduler.runner.ScheduleRunner")
