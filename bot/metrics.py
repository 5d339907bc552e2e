"""Prometheus metrics (DESIGN §10): one registry per process, served at /metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# A scheduled run that starts later than this after its time counts as a misfire (it was due
# while the process was down, or while no process was leading the schedules).
LATE_AFTER = dt.timedelta(minutes=1)


class Metrics:
    """What an office's IT team watches: updates by kind and how long they took, forms
    started/abandoned/submitted. The dispatcher and scheduler add theirs to `registry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.updates = Counter("ambassador_updates_total", "Telegram updates handled",
                               ["kind"], registry=self.registry)
        self.latency = Histogram("ambassador_update_seconds", "Time to handle one update",
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10),
                                 registry=self.registry)
        self.forms = Counter("ambassador_forms_total", "Forms by outcome",
                             ["form", "outcome"], registry=self.registry)

    def watch_schedules(self, schedules: Any) -> None:
        """Job runs and misfires, read from the schedule runner's history at each scrape."""
        self.registry.register(_ScheduleCollector(schedules))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _ScheduleCollector:
    def __init__(self, schedules: Any) -> None:
        self.schedules = schedules

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily("ambassador_job_runs", "Scheduled jobs run by this process",
                                   labels=["job"])
        late = CounterMetricFamily("ambassador_job_misfires", "Scheduled jobs that ran more "
                                   "than a minute after their time", labels=["job"])
        ran: dict[str, int] = {job: 0 for job in self.schedules.jobs}
        misfired = dict(ran)
        for run in list(self.schedules.history):
            ran[run.job_id] = ran.get(run.job_id, 0) + 1
            if run.ran_at - run.scheduled > LATE_AFTER:
                misfired[run.job_id] = misfired.get(run.job_id, 0) + 1
        for job in sorted(ran):
            runs.add_metric([job], ran[job])
            late.add_metric([job], misfired[job])
        leading = GaugeMetricFamily("ambassador_scheduler_leader",
                                    "1 when this process runs the schedules")
        leading.add_metric([], 1 if self.schedules.is_leader else 0)
        yield runs
        yield late
        yield leading
