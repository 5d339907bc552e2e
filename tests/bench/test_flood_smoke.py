"""The flood benchmark still runs end to end (tiny sizes); its own checks are that every
message the flooder sent was answered. Speed is never asserted here (DESIGN §11)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_flood_bench_runs_and_prints_its_figure() -> None:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL_PG"}
    done = subprocess.run([sys.executable, "-m", "bench", "flood", "--smoke"], cwd=ROOT,
                          env=env, text=True, capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"flood: \d+\.\d\d others' p99 latency, flooding/idle \(target ≤ 2\)",
                        last), last
    assert re.search(r"the flooder was told to slow down \d+ time", done.stdout)
