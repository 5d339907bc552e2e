"""The running office for every Slack test (on SQLite and on PostgreSQL, via `db`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.models import Outbox
from tests.handlers.slack.harness import Office, running_office


@pytest.fixture
async def office(db, scheme, tmp_path) -> AsyncIterator[Office]:
    async for running in running_office(db, scheme, chart_dir=tmp_path / "charts",
                                       media_dir=tmp_path / "media"):
        yield running
        # Whatever a test sent, the dispatcher never had to give up on a message.
        failed = await running.rows(Outbox, Outbox.status.in_(["failed", "unknown"]))
        assert [(o.event, o.destination, o.error) for o in failed] == []
