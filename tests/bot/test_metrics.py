"""/metrics: forms by outcome as people use them, job runs and misfires from the schedules."""

from __future__ import annotations

import datetime as dt

from prometheus_client.parser import text_string_to_metric_families

from bot.emulators.telegram import TelegramEmulator
from bot.metrics import Metrics
from scheduler.runner import JobRun, ScheduleRunner
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, said
from tests.storage.seed import NOW, Cast


def samples(metrics: Metrics) -> dict[tuple[str, tuple], float]:
    body, _ = metrics.render()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples}


async def test_forms_started_abandoned_and_submitted_are_counted(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    metrics = Metrics()
    async with TelegramEmulator(token=TOKEN) as emu:
        bot = await RunningBot(emu, db, scheme, Clock(NOW)).start()
        bot.app.bot_data["services"].extra["metrics"] = metrics
        try:
            ann = emu.user(cast.ambassador.telegram_id, "Ann")
            await ann.send_command("/prenotify")
            await said(ann, "What is the engagement called?")
            await ann.send_text("Parish council")
            await said(ann, "What kind of engagement")
            await ann.send_command("/away")   # pre-notify put aside, kept: not abandoned
            await said(ann, "put aside your unfinished")
            await ann.send_command("/cancel")
            await said(ann, "Cancelled — nothing was sent.")
            await ann.send_command("/prenotify")
            await said(ann, "Carry on with your pre-notification?")
            await ann.press("↺ Start again")  # its one answer thrown away: abandoned now
            await said(ann, "What is the engagement called?")
        finally:
            await bot.stop()
    seen = samples(metrics)
    form = "ambassador_forms_total"
    assert seen[(form, (("form", "prenotify"), ("outcome", "started")))] == 2
    assert seen[(form, (("form", "prenotify"), ("outcome", "abandoned")))] == 1
    assert seen[(form, (("form", "away"), ("outcome", "started")))] == 1
    assert seen[(form, (("form", "away"), ("outcome", "abandoned")))] == 1


async def test_job_runs_and_misfires_come_from_the_schedules(db, scheme) -> None:
    schedules = ScheduleRunner(db, scheme, name="metrics-test")
    metrics = Metrics()
    metrics.watch_schedules(schedules)
    due = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
    schedules.history += [JobRun("weekly_digest", due, due + dt.timedelta(seconds=2), 1),
                          JobRun("reminders", due, due + dt.timedelta(hours=3), 4)]
    seen = samples(metrics)
    assert seen[("ambassador_job_runs_total", (("job", "weekly_digest"),))] == 1
    assert seen[("ambassador_job_misfires_total", (("job", "weekly_digest"),))] == 0
    assert seen[("ambassador_job_misfires_total", (("job", "reminders"),))] == 1
    assert seen[("ambassador_job_runs_total", (("job", "retention"),))] == 0
    assert seen[("ambassador_scheduler_leader", ())] == 0
