"""The schedules with a clock the test moves: a month across the October clock change, runs
missed while down run once, the database down when a job fires, leader hand-over."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from scheduler.jobs import JOBS_BY_ID
from scheduler.runner import ManualClock, ScheduleRunner
from storage.db import Database
from storage.models import (Base, Engagement, Feedback, FollowUp, Meeting, Outbox,
                            ScheduleState)
from storage.scheme import Schedules
from tests.scheduler.outage import Outage
from storage.scheme_meetings import Meetings
from tests.storage.seed import Cast

UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LONDON).astimezone(UTC)


@pytest.fixture
async def runners(tmp_path):
    made: list[ScheduleRunner] = []

    def make(db, scheme, clock, **kw) -> ScheduleRunner:
        runner = ScheduleRunner(db, scheme, clock=clock, chart_dir=tmp_path / "charts",
                                election_interval=kw.pop("election_interval", 0.1),
                                retry_delay=kw.pop("retry_delay", 0.05), **kw)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        await runner.stop()


async def events(db) -> Counter[str]:
    async with db.transaction() as s:
        rows = (await s.execute(select(Outbox.event, func.count()).group_by(Outbox.event))).all()
    return Counter(dict(rows))


async def seed_month(db, cast: Cast) -> None:
    """An engagement that ends without feedback, a quarterly meeting, an overdue follow-up."""
    ann = cast.ambassador
    async with db.transaction() as s:
        late = Engagement(ambassador_id=ann.id, area_id=ann.area_id, title="Craven Arms fete",
                          kind="Other", place="Park", starts_at=local(2026, 10, 10, 12),
                          ends_at=local(2026, 10, 10, 16), status="planned")
        done = Engagement(ambassador_id=ann.id, area_id=ann.area_id, title="Church Stretton",
                          kind="Other", place="Hall", starts_at=local(2026, 10, 1, 12),
                          ends_at=local(2026, 10, 1, 14), status="held")
        s.add_all([late, done])
        await s.flush()
        feedback = Feedback(engagement_id=done.id, ambassador_id=ann.id, attendees=10,
                            summary="ok", submitted_at=local(2026, 10, 1, 15))
        s.add(feedback)
        await s.flush()
        s.add(FollowUp(feedback_id=feedback.id, engagement_id=done.id, needed_by="office",
                       urgency="attention", detail="Bus shelter vandalised", status="open",
                       due_at=local(2026, 10, 4, 15), created_at=local(2026, 10, 1, 15)))
        s.add(Meeting(kind="quarterly", title="Quarterly meeting", place="Hindlip",
                      starts_at=local(2026, 10, 29, 10), ends_at=local(2026, 10, 29, 12),
                      created_by_id=cast.officer.id))


async def simulate(runner: ScheduleRunner, clock: ManualClock, end: dt.datetime) -> None:
    """Move the clock from one wake-up of the scheduler to the next, running what is due."""
    while (due := runner.next_wakeup()) is not None and due < end:
        clock.set(due)
        ran = await runner.tick()
        assert ran and all(r.scheduled == due for r in ran)


def by_job(runner: ScheduleRunner) -> dict[str, list[dt.datetime]]:
    runs: dict[str, list[dt.datetime]] = {}
    for run in runner.history:
        runs.setdefault(run.job_id, []).append(run.scheduled)
    return runs


async def test_a_month_across_the_october_clock_change(db, scheme, runners) -> None:
    """Every schedule fires at its local time before and after the clocks go back (25 Oct),
    each sends what it should, once. (The hourly reminders run six-hourly here to keep the
    test quick; the hourly schedule across the change is the next test.)"""
    # The one meeting seeded is followed here; the scheme's own series has its own tests
    # (tests/storage/test_meeting_series.py).
    scheme = scheme.model_copy(update={"meetings": Meetings()})
    cast = await Cast.create(db, scheme)
    await seed_month(db, cast)
    start, end = local(2026, 10, 5, 0, 0), local(2026, 11, 4, 0, 0)
    clock = ManualClock(start)
    # Escalation looks every minute in a real office; six-hourly here keeps the month quick.
    scheme = scheme.model_copy(update={"schedules": Schedules(
        feedback_nudges="0 */6 * * *", escalation="15 */6 * * *")})
    runner = runners(db, scheme, clock)
    await runner.start()
    assert await runner.wait_until_leader()
    assert [(r.job_id, r.scheduled) for r in await runner.tick()] == [("reminders", start)]
    await simulate(runner, clock, end)
    runs = by_job(runner)

    def local_times(job: str) -> list[str]:
        return [t.astimezone(LONDON).strftime("%a %d %b %H:%M") for t in runs[job]]

    assert local_times("weekly_digest") == ["Mon 05 Oct 08:00", "Mon 12 Oct 08:00",
                                            "Mon 19 Oct 08:00", "Mon 26 Oct 08:00",
                                            "Mon 02 Nov 08:00"]
    # 08:00 local is 07:00 UTC in summer time and 08:00 UTC after the change.
    assert [t.astimezone(UTC).hour for t in runs["weekly_digest"]] == [7, 7, 7, 8, 8]
    assert local_times("weekly_catch_up") == ["Wed 07 Oct 10:00", "Wed 14 Oct 10:00",
                                              "Wed 21 Oct 10:00", "Wed 28 Oct 10:00"]
    assert local_times("monthly_hours_summary") == ["Sun 01 Nov 09:00"]
    assert len(runs["overdue_follow_ups"]) == 22           # weekdays 5 Oct – 3 Nov
    assert {t[-5:] for t in local_times("overdue_follow_ups")} == {"09:00"}
    assert len(runs["retention"]) == 30
    assert {t[-5:] for t in local_times("retention")} == {"02:30"}
    assert len(runs["reminders"]) == 30 * 4
    assert {t.astimezone(LONDON).strftime("%H:%M") for t in runs["reminders"]} == {
        "00:00", "06:00", "12:00", "18:00"}

    sent = await events(db)
    assert sent["weekly_digest"] == 5 * 2                   # channel + the Commissioner's DM
    assert sent["catch_up_question"] == 4 * 2               # two ambassadors, four Wednesdays
    assert sent["hours_summary"] == 2
    assert sent["feedback_nudge"] == 2
    assert sent["meeting_reminder"] == 2 * 2                # a week before and a day before
    assert sent["follow_ups_overdue"] == 22
    assert "retention_report" not in sent


@pytest.mark.parametrize("night,hours", [
    ((2026, 10, 24, 22), 7),    # clocks go back at 02:00 BST: 01:00 local happens twice
    ((2026, 3, 28, 22), 5),     # clocks go forward at 01:00 GMT: no 01:00 local at all
])
async def test_hourly_reminders_across_a_clock_change_night(db, scheme, runners, night,
                                                             hours) -> None:
    """Hourly means every real hour: none skipped, none twice, whatever the wall clock does."""
    await Cast.create(db, scheme)
    start = local(*night, 0)
    clock = ManualClock(start)
    runner = runners(db, scheme, clock, jobs=[JOBS_BY_ID["reminders"]])
    await runner.start()
    assert await runner.wait_until_leader()
    await runner.tick()
    await simulate(runner, clock, start + dt.timedelta(hours=hours - 0.5))
    ran = [t.astimezone(UTC) for t in by_job(runner)["reminders"]]
    assert ran == [start + dt.timedelta(hours=h) for h in range(hours)]


async def test_weekly_digest_at_eight_local_across_the_spring_change(db, scheme,
                                                                    runners) -> None:
    await Cast.create(db, scheme)
    clock = ManualClock(local(2026, 3, 22, 12, 0))
    runner = runners(db, scheme, clock, jobs=[JOBS_BY_ID["weekly_digest"]])
    await runner.start()
    assert await runner.wait_until_leader()
    await simulate(runner, clock, local(2026, 4, 12, 0, 0))
    digests = by_job(runner)["weekly_digest"]
    assert [t.astimezone(LONDON).strftime("%d %b %H:%M") for t in digests] == [
        "23 Mar 08:00", "30 Mar 08:00", "06 Apr 08:00"]
    assert [t.astimezone(UTC).hour for t in digests] == [8, 7, 7]


async def test_missed_runs_while_down_run_once_then_on_schedule(db, scheme, runners) -> None:
    """Down for three weeks: each job that fell due runs once on restart (not three times,
    not never), then keeps its schedule."""
    await Cast.create(db, scheme)
    clock = ManualClock(local(2026, 11, 1, 12, 30))       # Sunday afternoon
    first = runners(db, scheme, clock)
    await first.start()
    assert await first.wait_until_leader()
    # Only escalation, which looks every minute, is due on a Sunday afternoon.
    assert [r.job_id for r in await first.tick()] == ["escalation"]
    await first.stop()

    clock.set(local(2026, 11, 25, 12, 0))                   # Wednesday, three weeks later
    second = runners(db, scheme, clock)
    await second.start()
    assert await second.wait_until_leader()
    ran = await second.tick()
    assert Counter(r.job_id for r in ran) == {"weekly_digest": 1, "weekly_catch_up": 1,
                                              "reminders": 1, "overdue_follow_ups": 1,
                                              "retention": 1, "escalation": 1}
    digest = next(r for r in ran if r.job_id == "weekly_digest")
    assert digest.scheduled == local(2026, 11, 23, 8, 0)    # the last one missed
    assert (await events(db))["weekly_digest"] == 2
    assert await second.tick() == []
    # Running a job again in the same week sends nothing more.
    await second._run("weekly_digest", digest.scheduled)
    await second._run("weekly_catch_up", digest.scheduled)
    sent = await events(db)
    assert (sent["weekly_digest"], sent["catch_up_question"]) == (2, 2)
    clock.set(local(2026, 11, 30, 8, 0))
    assert "weekly_digest" in {r.job_id for r in await second.tick()}
    assert (await events(db))["weekly_digest"] == 4


async def test_a_changed_schedule_is_worked_out_afresh(db, scheme, runners) -> None:
    await Cast.create(db, scheme)
    clock = ManualClock(local(2026, 11, 1, 12, 0))
    first = runners(db, scheme, clock, jobs=[JOBS_BY_ID["weekly_digest"]])
    await first.start()
    assert await first.wait_until_leader()
    await first.stop()
    changed = scheme.model_copy(update={"schedules": Schedules(weekly_digest="0 9 * * fri")})
    clock.set(local(2026, 11, 25, 12, 0))
    second = runners(db, changed, clock, jobs=[JOBS_BY_ID["weekly_digest"]])
    await second.start()
    assert await second.wait_until_leader()
    assert await second.tick() == []                        # the old Monday run is not owed
    assert second.next_wakeup() == local(2026, 11, 27, 9, 0)
    async with db.transaction() as s:
        state = await s.get(ScheduleState, "weekly_digest")
    assert state.next_run_time == local(2026, 11, 27, 9, 0)


async def test_a_job_waits_for_the_database_to_come_back(db, scheme, runners,
                                                        tmp_path) -> None:
    """The database goes away just before the digest is due (SQLite: the file is gone;
    PostgreSQL: every connection dropped and new ones refused). Nothing is sent meanwhile,
    nothing is given up: when it is back the digest runs, once."""
    outage = await Outage.on(db, tmp_path)
    try:
        database = outage.database
        await Cast.create(database, scheme)
        clock = ManualClock(local(2026, 11, 22, 12, 0))
        runner = runners(database, scheme, clock, jobs=[JOBS_BY_ID["weekly_digest"]])
        await runner.start()
        assert await runner.wait_until_leader()
        await outage.cut()
        clock.set(local(2026, 11, 23, 8, 0))
        tick = asyncio.create_task(runner.tick())
        await asyncio.sleep(0.5)
        assert runner.history == []                     # retrying (or stood down), not run
        await outage.restore()
        ran = await asyncio.wait_for(tick, 15)
        for _ in range(100):                            # PostgreSQL: re-elected, then due
            if ran or runner.history:
                break
            await asyncio.sleep(0.1)
            if runner.is_leader:
                ran = await runner.tick()
        assert [r.job_id for r in runner.history] == ["weekly_digest"]
        assert runner.history[0].scheduled == local(2026, 11, 23, 8, 0)
        assert (await events(database))["weekly_digest"] == 2
        assert await runner.tick() == []
    finally:
        await outage.close()


async def test_leader_hand_over_on_postgresql(db, scheme, runners) -> None:
    """Two processes: one leads; when its database connection dies the other takes over
    within seconds and the first steps down. Stopping the leader hands over too."""
    if db.dialect != "postgresql":
        pytest.skip("the advisory-lock election is PostgreSQL's; on SQLite the process leads")
    await Cast.create(db, scheme)
    clock = ManualClock(local(2026, 11, 22, 12, 0))
    jobs = [JOBS_BY_ID["weekly_digest"]]
    a = runners(db, scheme, clock, jobs=jobs, name="a")
    b = runners(db, scheme, clock, jobs=jobs, name="b")
    await a.start()
    assert await a.wait_until_leader(5)
    await b.start()
    await asyncio.sleep(0.5)
    assert a.is_leader and not b.is_leader

    async with db.engine.connect() as conn:                 # the leader's connection dies
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"),
                           {"pid": a.lock_backend_pid})
        await conn.commit()
    assert await b.wait_until_leader(5)
    for _ in range(50):
        if not a.is_leader:
            break
        await asyncio.sleep(0.1)
    assert not a.is_leader

    clock.set(local(2026, 11, 23, 8, 0))                    # only the leader runs jobs
    assert [r.job_id for r in await b.tick()] == ["weekly_digest"]
    assert await a.tick() == []
    assert (await events(db))["weekly_digest"] == 2

    await b.stop()                                          # a clean stop hands over too
    assert await a.wait_until_leader(5)
    assert await a.tick() == []                             # and the digest is not re-sent
    assert (await events(db))["weekly_digest"] == 2


@pytest.mark.parametrize("field,value,expected", [
    ("weekly_digest", "0 8 * * funday", "schedules.weekly_digest: not a valid cron schedule"),
    ("retention", "30 2 31 2 *", "schedules.retention: '30 2 31 2 *' never fires"),
    ("timezone", "Europe/Londn", "timezone: 'Europe/Londn' is not a time zone"),
])
def test_a_schedule_that_cannot_work_stops_start_up_naming_the_key(scheme, field, value,
                                                                  expected) -> None:
    """The scheme file refuses these when it is read; a scheme built another way is refused
    again by the runner before anything starts."""
    if field == "timezone":
        broken = scheme.model_copy(update={"timezone": value})
    else:
        broken = scheme.model_copy(update={"schedules": scheme.schedules.model_copy(
            update={field: value})})
    with pytest.raises(ValueError) as refused:
        ScheduleRunner(Database("sqlite+aiosqlite://"), broken,
                       clock=ManualClock(local(2026, 11, 23, 8, 0)))
    assert str(refused.value).startswith(expected)


async def test_with_the_system_clock_a_missed_run_starts_by_itself_once(
        db, scheme, runners) -> None:
    """No tick(): the runner's own timer starts a job found overdue at start, once, and then
    sleeps until the next time it is due."""
    from scheduler.jobs import JobSpec
    from scheduler.runner import SystemClock, trigger_for

    started: list[dt.datetime] = []
    release = asyncio.Event()

    async def slow(ctx) -> str:
        started.append(ctx.now)
        await release.wait()
        return "done"

    spec = JobSpec("slow", "weekly_digest", slow)
    trigger = trigger_for(scheme, spec)
    async with db.transaction() as s:
        s.add(ScheduleState(job_id="slow", trigger=repr(trigger),
                            next_run_time=dt.datetime.now(UTC) - dt.timedelta(days=15),
                            updated_at=dt.datetime.now(UTC)))
    runner = runners(db, scheme, SystemClock(), jobs=[spec])
    await runner.start()
    assert await runner.wait_until_leader(5)
    for _ in range(100):
        if started:
            break
        await asyncio.sleep(0.02)
    assert len(started) == 1            # two missed Mondays coalesce into one run
    release.set()
    for _ in range(100):
        if runner.history:
            break
        await asyncio.sleep(0.02)
    [run] = runner.history
    assert run.result == "done"
    assert runner.next_wakeup() > dt.datetime.now(UTC)
    async with db.transaction() as s:
        saved = await s.get(ScheduleState, "slow")
    assert saved.next_run_time.replace(tzinfo=UTC) == runner.next_wakeup()


def test_a_trigger_that_does_not_move_on_cannot_hold_the_loop() -> None:
    """Whatever a trigger answers, working out what is due ends, with a next time after now."""
    from scheduler.runner import _latest_due

    class Stuck:
        """Answers the same past time for ever, as old triggers did over a clock change."""

        def __init__(self, at: dt.datetime) -> None:
            self.at = at

        def get_next_fire_time(self, previous, now):
            return self.at if previous is not None else now + dt.timedelta(hours=1)

    now = local(2026, 10, 25, 3, 0)
    stuck_at = now - dt.timedelta(hours=2)
    due, following = _latest_due(Stuck(stuck_at), stuck_at, now)
    assert due == stuck_at and following > now
