"""Prometheus metrics (DESIGN §10): one registry per process, served at /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


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

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
