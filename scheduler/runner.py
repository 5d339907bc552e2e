"""Running the schedules: APScheduler 3, one leader, and a clock tests can move.

* **When a job is due** comes from APScheduler 3.11's public `CronTrigger`: the scheme's cron
  strings in the scheme's time zone (`CronTrigger.from_crontab(..., timezone=scheme.tz)`), so
  08:00 Europe/London is 08:00 local in March and in October. A small loop here asks each
  trigger for its next fire time (`get_next_fire_time`) and runs what is due; no scheduler
  class is subclassed and no private name is used, so an APScheduler upgrade cannot change
  how it runs. After downtime a missed job runs **once** (the fire times it missed are
  coalesced into the latest), never zero times, never a burst; a job still running when it
  falls due again is not started twice.
* **Persistence** in the project's database: each job's next run time is saved in
  `schedule_state` *after* the run completes. On start (or when a new leader takes over) the
  saved times are loaded, so a run that fell due while nobody was leading is due at once.
  APScheduler's own SQLAlchemyJobStore is not used: it writes synchronously from the event
  loop, and on SQLite that deadlocks against our own transactions (the loop blocks on a lock
  that a suspended coroutine holds) until the busy timeout. APScheduler keeps its jobs in
  memory; the state that must survive is saved through the async engine.
* **One leader**: on PostgreSQL the leader holds `pg_try_advisory_lock` on a connection kept
  for its life and checked every few seconds; a standby tries every few seconds and takes
  over when the leader's connection dies. If the leader loses its connection it steps down.
  On SQLite the process is the leader. Jobs are idempotent (ScheduleMark), so the few seconds
  in which an old leader has not yet noticed cannot send anything twice.
* **The clock** is injectable: tests and the sandbox pass a clock of their own, move it, and
  call `tick()`; with such a clock no real timer is armed.
* **The database down when a job fires**: the job retries with backoff until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.jobs import JOBS, JobContext, JobSpec, fire
from storage.db import Database
from storage.models import ScheduleState, utcnow
from storage.scheme import Scheme

log = logging.getLogger(__name__)

# One advisory lock key per deployment's database ("ambsch" in ASCII).
LEADER_LOCK_KEY = 0x616D_6273_6368
# What "the database is not there right now" looks like; anything else is a bug and is logged.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, OSError, TimeoutError)


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return utcnow()


class ManualClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        self._now = start.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        return self._now

    def set(self, moment: dt.datetime) -> None:
        self._now = moment.astimezone(dt.UTC)

    def advance(self, **delta: float) -> dt.datetime:
        self._now += dt.timedelta(**delta)
        return self._now


@dataclass
class _Scheduled:
    """One job while this process leads: its trigger, when it is next due, its running task."""
    spec: JobSpec
    trigger: CronTrigger
    next_run_time: dt.datetime | None
    running: asyncio.Task[Any] | None = None


def _latest_due(trigger: CronTrigger, next_run_time: dt.datetime,
                now: dt.datetime) -> tuple[dt.datetime, dt.datetime | None]:
    """The latest fire time at or before `now` (the missed ones coalesce into it), and the
    first one after `now`."""
    due, following = next_run_time, trigger.get_next_fire_time(next_run_time, now)
    while following is not None and following <= now:
        if following <= due:
            # A trigger that does not move on (APScheduler before 3.11.2 at a clock change)
            # must not hold the loop: take the first fire time after now instead.
            return due, trigger.get_next_fire_time(None, now + dt.timedelta(microseconds=1))
        due, following = following, trigger.get_next_fire_time(following, now)
    return due, following


class _Abandoned(Exception):
    """A job left unrun because this process stopped leading while the database was away;
    its next run time was not saved, so whoever leads next runs it."""


@dataclass(frozen=True)
class JobRun:
    """One completed run: which job, the time it was due, the time it ran, what it returned."""
    job_id: str
    scheduled: dt.datetime
    ran_at: dt.datetime
    result: Any


def trigger_for(scheme: Scheme, spec: JobSpec) -> CronTrigger:
    return CronTrigger.from_crontab(getattr(scheme.schedules, spec.schedule),
                                    timezone=scheme.tz)


class ScheduleRunner:
    """The schedules of one process: elects a leader, runs the jobs as they fall due while
    leading."""

    def __init__(self, db: Database, scheme: Scheme, *, clock: Clock | None = None,
                 jobs: Sequence[JobSpec] = JOBS, chart_dir: Path | None = None,
                 on_outbox: Callable[[], None] | None = None,
                 election_interval: float = 5.0, retry_delay: float = 5.0,
                 max_retry_delay: float = 300.0, name: str = "scheduler") -> None:
        self.db = db
        self.scheme = scheme
        self.clock: Clock = clock or SystemClock()
        self.jobs = {spec.id: spec for spec in jobs}
        self.chart_dir = chart_dir or Path("media") / "charts"
        self.on_outbox = on_outbox
        self.election_interval = election_interval
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.name = name
        self.history: list[JobRun] = []
        self.lock_backend_pid: int | None = None     # the leader's lock connection (tests)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scheduled: dict[str, _Scheduled] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._manual = not isinstance(self.clock, SystemClock)
        self._election: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._leading = asyncio.Event()
        try:
            ZoneInfo(scheme.timezone)
        except (ValueError, KeyError) as error:
            raise ValueError(f"timezone: {scheme.timezone!r} is not a time zone ({error})") \
                from None
        for spec in jobs:  # a bad schedule stops start-up, naming the key (the scheme also checks)
            try:
                trigger = trigger_for(scheme, spec)
            except (ValueError, KeyError) as error:
                raise ValueError(f"schedules.{spec.schedule}: not a valid cron schedule "
                                 f"({error})") from None
            if trigger.get_next_fire_time(None, self.clock.now()) is None:
                raise ValueError(f"schedules.{spec.schedule}: "
                                 f"{getattr(scheme.schedules, spec.schedule)!r} never fires")

    # ---- life -----------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self._leading.is_set()

    async def start(self) -> None:
        """Begin: become the leader (SQLite: at once) or stand by for it (PostgreSQL)."""
        self._stopping.clear()
        self._election = asyncio.create_task(self._elect(), name=f"{self.name}-election")

    async def wait_until_leader(self, timeout: float = 10.0) -> bool:
        try:
            await asyncio.wait_for(self._leading.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Stop leading or standing by; running jobs get a few seconds to finish."""
        self._stopping.set()
        if self._election is not None:
            await self._election
            self._election = None

    # ---- election -------------------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _elect(self) -> None:
        while not self._stopping.is_set():
            try:
                if self.db.dialect == "postgresql":
                    await self._contend()
                else:
                    await self._lead()
                    await self._stopping.wait()
            except asyncio.CancelledError:
                raise
            except DATABASE_UNAVAILABLE + (DBAPIError,) as error:
                log.warning("%s: database unavailable (%s); trying again in %.0f s",
                            self.name, error, self.election_interval)
            except Exception:  # the election must outlive any surprise; it is logged in full
                log.exception("%s: unexpected error in the leader election", self.name)
            finally:
                led = self._leading.is_set()
                await self._step_down()
            # A leader that just lost its connection waits longer before contending again, so
            # a standby with a working connection takes over rather than racing it back.
            await self._sleep(self.election_interval * (3 if led else 1))

    async def _contend(self) -> None:
        """PostgreSQL: take the advisory lock or stand by; while leading, check the lock's
        connection every election_interval and step down when it is gone."""
        connection = await self.db.engine.connect()
        try:
            got = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"),
                                          {"key": LEADER_LOCK_KEY})
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
            await connection.commit()
            if not got:
                return
            self.lock_backend_pid = pid
            log.info("%s: leading (advisory lock on backend %s)", self.name, pid)
            await self._lead()
            while not self._stopping.is_set():
                await self._sleep(self.election_interval)
                await asyncio.wait_for(connection.execute(text("SELECT 1")),
                                       max(self.election_interval * 2, 5.0))
                await connection.commit()
        finally:
            await self._release(connection)

    @staticmethod
    async def _release(connection: AsyncConnection) -> None:
        """Give the lock back: unlock if the connection still works, and close it either way
        (a pooled connection would otherwise keep a session lock forever)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.execute(text("SELECT pg_advisory_unlock_all()")),
                                   2)
        with contextlib.suppress(Exception):
            await connection.invalidate()
        with contextlib.suppress(Exception):
            await connection.close()

    async def _lead(self) -> None:
        states = await self._load_states()
        now = self.clock.now()
        scheduled = {}
        for spec in self.jobs.values():
            trigger = trigger_for(self.scheme, spec)
            saved = states.get(spec.id)
            if saved is not None and saved.trigger == repr(trigger) and saved.next_run_time:
                next_run = _aware(saved.next_run_time)   # may be in the past: due now
            else:
                next_run = trigger.get_next_fire_time(None, now)
            scheduled[spec.id] = _Scheduled(spec, trigger, next_run)
        self._scheduled = scheduled
        for spec in self.jobs.values():
            await self._save_state(spec.id)
        self._leading.set()
        if not self._manual:   # a test or sandbox clock moves when told; it calls tick()
            self._timer = asyncio.create_task(self._run_when_due(), name=f"{self.name}-timer")

    async def _run_when_due(self) -> None:
        """With the system clock: start what is due, sleep until the next is, again. The
        sleep is capped so a clock that jumps (a suspended machine) is noticed soon."""
        while self._leading.is_set() and not self._stopping.is_set():
            self._start_due()
            wake = self.next_wakeup()
            delay = 60.0 if wake is None else (wake - self.clock.now()).total_seconds()
            await self._sleep(min(max(delay, 0.0), 60.0))

    def _start_due(self) -> None:
        """Start every job whose time has come, once, with the latest time it was due."""
        now = self.clock.now()
        for job in (self._scheduled or {}).values():
            if job.next_run_time is None or job.next_run_time > now:
                continue
            due, job.next_run_time = _latest_due(job.trigger, job.next_run_time, now)
            if job.running is not None and not job.running.done():
                log.warning("%s: %s is due again while still running; this run is skipped",
                            self.name, job.spec.id)
                continue
            task = asyncio.get_running_loop().create_task(self._run_logged(job.spec.id, due))
            job.running = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_logged(self, job_id: str, scheduled: dt.datetime) -> None:
        try:
            await self._run(job_id, scheduled)
        except _Abandoned:   # stepped down: the next leader runs it
            pass
        except Exception:  # noqa: BLE001 — one job's failure must not stop the others
            log.exception("%s: %s failed", self.name, job_id)

    async def _step_down(self) -> None:
        if not self._leading.is_set() and self._scheduled is None:
            return
        self._leading.clear()
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            await asyncio.gather(timer, return_exceptions=True)
        if self._tasks:
            done, pending = await asyncio.wait(list(self._tasks), timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._scheduled = None
        log.info("%s: no longer leading", self.name)

    # ---- state ----------------------------------------------------------------------------

    async def _load_states(self) -> dict[str, ScheduleState]:
        async with self.db.transaction() as session:
            rows = (await session.scalars(select(ScheduleState))).all()
        return {row.job_id: row for row in rows}

    async def _save_state(self, job_id: str) -> None:
        job = (self._scheduled or {}).get(job_id)
        if job is None:
            return
        values = {"job_id": job_id, "trigger": repr(job.trigger),
                  "next_run_time": job.next_run_time, "updated_at": self.clock.now()}
        insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        statement = insert(ScheduleState).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["job_id"],
            set_={k: statement.excluded[k] for k in ("trigger", "next_run_time", "updated_at")})
        try:
            async with self.db.transaction() as session:
                await session.execute(statement)
        except DATABASE_UNAVAILABLE + (DBAPIError,) as error:
            # Not saved: after a restart this job would run again, which sends nothing twice.
            log.warning("%s: could not save the next run of %s: %s", self.name, job_id, error)

    # ---- running --------------------------------------------------------------------------

    async def _run(self, job_id: str, scheduled: dt.datetime) -> Any:
        """Run one job; while the database is unavailable, try again with backoff."""
        spec = self.jobs[job_id]
        delay = self.retry_delay
        while True:
            ran_at = self.clock.now()
            try:
                result = await spec.run(JobContext(self.db, self.scheme, ran_at,
                                                   self.chart_dir))
                break
            except DATABASE_UNAVAILABLE + (DBAPIError,) as error:
                if self._stopping.is_set() or not self._leading.is_set():
                    log.warning("%s: %s left for the next leader: the database is "
                                "unavailable (%s)", self.name, job_id, error)
                    raise _Abandoned(job_id) from error
                log.warning("%s: %s could not run, the database is unavailable (%s); trying "
                            "again in %.0f s", self.name, job_id, error, delay)
                await self._sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)
        self.history.append(JobRun(job_id, scheduled, ran_at, result))
        log.info("%s: %s ran (due %s): %s", self.name, job_id, scheduled.isoformat(), result)
        if self.on_outbox is not None:
            self.on_outbox()
        await self._save_state(job_id)
        return result

    def next_wakeup(self) -> dt.datetime | None:
        """When the next job is due (None when not leading)."""
        if self._scheduled is None:
            return None
        times = [job.next_run_time for job in self._scheduled.values() if job.next_run_time]
        return min(times) if times else None

    async def tick(self) -> list[JobRun]:
        """Run what is due at the clock's time and wait for it (tests, with a ManualClock)."""
        before = len(self.history)
        await self._settle()      # what an earlier tick started finishes first
        if self._leading.is_set():
            self._start_due()
        await self._settle()
        return self.history[before:]

    async def _settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; every time stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
