"""Every promise test runs with logging configured as `python -m bot run` at LOG_LEVEL=DEBUG,
and ends by checking that no token or secret and no text a person typed reached the logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.handlers.slack.harness import Office, running_office
from tests.promises.logs import Collected, debug_logs, leaks


@pytest.fixture(autouse=True)
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[Collected]:
    caplog.set_level(logging.DEBUG)
    with debug_logs() as collected:
        collected.typed: list[str] = []  # tests add what they typed beyond the marker word
        yield collected
    assert leaks(collected, collected.typed) == []


@pytest.fixture
async def office(db, scheme, tmp_path) -> AsyncIterator[Office]:
    async for running in running_office(db, scheme, chart_dir=tmp_path / "charts"):
        yield running
