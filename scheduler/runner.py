"""Running the schedules: APScheduler 3, one leader, and a clock tests can move.

* **APScheduler 3.11** (`AsyncIOScheduler`) decides when each job of scheduler/jobs.py is due,
  from the scheme's cron strings in the scheme's time zone (`CronTrigger.from_crontab(...,
  timezone=scheme.tz)`), so 08:00 Europe/London is 08:00 local in March and in October.
  Jobs are `coalesce=True` with no misfire limit: after downtime a missed job runs **once**,
  never zero times, never a burst.
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
* **The clock** is injectable: tests pass a `ManualClock`, move it, and call `tick()`.
  APScheduler 3 reads `datetime.now()` itself, so while it works out what is due the manual
  clock is lent to it (only then, and only for a test clock; production never patches).
* **The database down when a job fires**: the job retries with backoff until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
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


@contextlib.contextmanager
def _lend_clock(clock: Clock) -> Iterator[None]:
    """Let APScheduler's scheduler module see `clock` as `datetime.now()` for one call."""
    import apscheduler.schedulers.base as base

    real = base.datetime

    class _ClockDatetime(real):  # type: ignore[valid-type, misc]
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            moment = clock.now()
            return moment.astimezone(tz) if tz is not None else moment

    base.datetime = _ClockDatetime
    try:
        yield
    finally:
        base.datetime = real


class _ClockedScheduler(AsyncIOScheduler):
    """AsyncIOScheduler that takes its time from a test clock, and arms no real timers then."""

    def __init__(self, clock: Clock, **options: Any) -> None:
        self._clock = clock
        self._manual = not isinstance(clock, SystemClock)
        super().__init__(**options)

    def _process_jobs(self) -> float | None:
        if not self._manual:
            return super()._process_jobs()
        with _lend_clock(self._clock):
            return super()._process_jobs()

    def _real_add_job(self, job: Job, jobstore_alias: str, replace_existing: bool) -> None:
        if not self._manual:
            return super()._real_add_job(job, jobstore_alias, replace_existing)
        with _lend_clock(self._clock):
            return super()._real_add_job(job, jobstore_alias, replace_existing)

    def _start_timer(self, wait_seconds: float | None) -> None:
        if not self._manual:  # a test clock moves when the test says; it calls tick()
            super()._start_timer(wait_seconds)


class _RunnerExecutor(BaseExecutor):
    """Runs a due job as `runner._run(job_id, scheduled_time)` (with its JobContext), not by
    calling the stored function, so nothing is passed through globals or pickles."""

    def __init__(self, runner: ScheduleRunner) -> None:
        super().__init__()
        self._runner = runner

    def _do_submit_job(self, job: Job, run_times: list[dt.datetime]) -> None:
        scheduled = run_times[-1]
        task = asyncio.get_running_loop().create_task(self._runner._run(job.id, scheduled))
        self._runner._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._runner._tasks.discard(finished)
            if finished.cancelled():
                self._run_job_error(job.id, asyncio.CancelledError())
                return
            error = finished.exception()
            if isinstance(error, _Abandoned):   # stepped down: the next leader runs it
                self._run_job_success(job.id, [])
                return
            if error is not None:
                self._run_job_error(job.id, error, error.__traceback__)
                return
            self._run_job_success(job.id, [JobExecutionEvent(
                EVENT_JOB_EXECUTED, job.id, job._jobstore_alias, scheduled,
                retval=finished.result())])

        task.add_done_callback(done)


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
    """The schedules of one process: elects a leader, runs APScheduler while leading."""

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
        self._scheduler: _ClockedScheduler | None = None
        self._lock_connection: AsyncConnection | None = None
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
                await self._step_down()
            await self._sleep(self.election_interval)

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
            self._lock_connection, self.lock_backend_pid = connection, pid
            log.info("%s: leading (advisory lock on backend %s)", self.name, pid)
            await self._lead()
            while not self._stopping.is_set():
                await self._sleep(self.election_interval)
                await asyncio.wait_for(connection.execute(text("SELECT 1")),
                                       max(self.election_interval * 2, 5.0))
                await connection.commit()
        finally:
            self._lock_connection = None
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
        scheduler = _ClockedScheduler(
            self.clock, timezone=self.scheme.tz,
            executors={"default": _RunnerExecutor(self)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1})
        scheduler.start(paused=True)
        self._scheduler = scheduler
        for spec in self.jobs.values():
            trigger = trigger_for(self.scheme, spec)
            saved = states.get(spec.id)
            keep = {}
            if saved is not None and saved.trigger == repr(trigger) and saved.next_run_time:
                keep["next_run_time"] = saved.next_run_time   # may be in the past: due now
            scheduler.add_job(fire, trigger, id=spec.id, name=spec.id, replace_existing=True,
                              **keep)
        for spec in self.jobs.values():
            await self._save_state(spec.id)
        self._leading.set()
        scheduler.resume()

    async def _step_down(self) -> None:
        if not self._leading.is_set() and self._scheduler is None:
            return
        self._leading.clear()
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.pause()
        if self._tasks:
            done, pending = await asyncio.wait(list(self._tasks), timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        log.info("%s: no longer leading", self.name)

    # ---- state ----------------------------------------------------------------------------

    async def _load_states(self) -> dict[str, ScheduleState]:
        async with self.db.transaction() as session:
            rows = (await session.scalars(select(ScheduleState))).all()
        return {row.job_id: row for row in rows}

    async def _save_state(self, job_id: str) -> None:
        scheduler = self._scheduler
        job = scheduler.get_job(job_id) if scheduler is not None else None
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
        if self._scheduler is None:
            return None
        times = [job.next_run_time for job in self._scheduler.get_jobs() if job.next_run_time]
        return min(times) if times else None

    async def tick(self) -> list[JobRun]:
        """Run what is due at the clock's time and wait for it (tests, with a ManualClock)."""
        before = len(self.history)
        await asyncio.sleep(0)    # let a pending wakeup (from resume) run first
        await self._settle()      # and what it started finish, so max_instances never bites
        if self._scheduler is not None and self._leading.is_set():
            self._scheduler._process_jobs()
        await self._settle()
        return self.history[before:]

    async def _settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
