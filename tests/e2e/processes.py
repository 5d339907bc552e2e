"""Running `python -m bot sandbox` as a child process, and finding Debian's Chromium.

Chromium is installed with apt when /usr/bin/chromium is missing (the suite runs as root on a
fresh machine); Playwright never downloads a browser of its own.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run",
                 "--disable-sync"]
ADDRESS = re.compile(r"open (http://127\.0\.0\.1:\d+) in your browser")


def ensure_chromium() -> str:
    """Debian's Chromium, installed with apt the first time."""
    if not os.path.exists(CHROMIUM):
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.fail(f"{CHROMIUM} is missing and can't be installed here: run "
                        "`apt-get install -y chromium` as root")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"],
                        ["apt-get", "install", "-y", "-qq", "chromium"]):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                pytest.fail(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return CHROMIUM


@dataclass
class RunningSandbox:
    """`python -m bot sandbox` in a child process, on a free port, with its own files."""

    process: subprocess.Popen[str]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGINT, as Ctrl+C does; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_sandbox(directory: Path, *extra: str, timeout: float = 90) -> RunningSandbox:
    log = directory / "sandbox.log"
    handle = open(log, "w", encoding="utf-8")  # noqa: SIM115 — the child writes to it
    env = {**os.environ, "SCHEME_FILE": "", "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", "0", "--db",
         str(directory / "sandbox.db"), *extra],
        cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, text=True)
    handle.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ADDRESS.search(log.read_text(encoding="utf-8", errors="replace"))
        if found:
            return RunningSandbox(process, found.group(1), log)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    pytest.fail("the sandbox did not start:\n" + log.read_text(encoding="utf-8")[-4000:])
