"""The sandbox as people meet it: `python -m bot sandbox` in its own process, and Debian's
Chromium driven by Playwright (see processes.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.processes import CHROMIUM_ARGS, RunningSandbox, ensure_chromium, start_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    running = start_sandbox(tmp_path_factory.mktemp("sandbox"), "--reset")
    yield running
    code = running.stop()
    assert code == 0, f"the sandbox exited with {code}:\n{running.output()[-4000:]}"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                              headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object, sandbox: RunningSandbox) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1440, "height": 900},
                                  locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(15_000)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    context.close()
    assert problems == [], f"the page raised: {problems}"
