"""The Telegram benchmarks still run end to end (tiny sizes), so the bench code can't rot.

Speed is never asserted here (DESIGN §11): only that each benchmark completes, that its own
checks pass (every draft holds its user's answers in order, every update recorded once, one
question per answer) and that its last line has the documented shape. Each runs as
`python -m bench NAME --smoke` in a process of its own (all at once, to keep this quick), on
SQLite only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNS = {"telegram": ("telegram", "--smoke"), "telegram-rtt": ("telegram-rtt", "--smoke"),
        "report": ("report", "--smoke"), "sar": ("sar", "--smoke"), "listing": ("--help",)}


@pytest.fixture(scope="module")
def outputs() -> dict[str, tuple[int, str, str]]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL_PG"}
    processes = {name: subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=ROOT,
                                        env=env, text=True, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
                 for name, args in RUNS.items()}
    results = {}
    for name, process in processes.items():
        try:
            stdout, stderr = process.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        results[name] = (process.returncode, stdout, stderr)
    return results


@pytest.mark.parametrize(("name", "last_line"), [
    ("telegram", r"telegram: \d+\.\d\d form-step/echo updates per second"),
    ("telegram-rtt", r"telegram-rtt: \d+\.\d concurrent/sequential updates per second"),
])
def test_benchmark_runs_and_ends_with_its_ratio(outputs, name: str, last_line: str) -> None:
    returncode, stdout, stderr = outputs[name]
    assert returncode == 0, stdout[-2000:] + stderr[-4000:]
    lines = stdout.strip().splitlines()
    assert re.fullmatch(last_line, lines[-1]), lines[-1]
    assert "| variant |" in stdout  # the table of figures came before it


def test_the_report_benchmark_draws_pdfs(outputs) -> None:
    returncode, stdout, stderr = outputs["report"]
    assert returncode == 0, stdout[-2000:] + stderr[-4000:]
    assert re.fullmatch(r"report: \d+\.\d\d PDF time at 20,000/2,000 engagements, round by "
                        r"round \(SQLite; target ≤ 3\); \d+\.\d\d s at 20,000 \(target ≤ 10 s\)",
                        stdout.strip().splitlines()[-1]), stdout[-500:]


def test_the_subject_access_benchmark_checks_its_bundles(outputs) -> None:
    """Each bundle it times holds exactly her rows and files (the run stops otherwise)."""
    returncode, stdout, stderr = outputs["sar"]
    assert returncode == 0, stdout[-2000:] + stderr[-4000:]
    assert "| database |" in stdout
    assert re.fullmatch(r"sar: \d+\.\d\d bundle/floor, round by round \(SQLite\); \d+\.\d\d s "
                        r"for \d[\d,]* records \(target ≤ 60 s\)",
                        stdout.strip().splitlines()[-1]), stdout[-500:]


def test_the_benchmarks_are_listed(outputs) -> None:
    returncode, stdout, _ = outputs["listing"]
    assert returncode == 0
    assert "telegram" in stdout and "telegram-rtt" in stdout
