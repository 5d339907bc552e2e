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
    output = running.output()
    assert code == 0, f"the sandbox exited with {code}:\n{output[-4000:]}"
    # What people typed and the tokens stay out of the console (DESIGN §7), stack traces too.
    from bot.emulators.telegram import DEFAULT_TOKEN
    from bot.sandbox.sandbox import SLACK_BOT_TOKEN

    for secret in (DEFAULT_TOKEN, SLACK_BOT_TOKEN, "Traceback", "skatepark", "Skatepark",
                   "pwned", "who locks up"):
        assert secret not in output, f"the sandbox's console shows {secret!r}"


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
