"""The load benchmark still runs end to end (tiny sizes), so the bench code can't rot.

Speed is never asserted (DESIGN §11): only that `python -m bench load --quick` with four
ambassadors completes — which means its own checks passed on the run of the whole bot (every
record once, every outbox row sent once, each chat's flows confirmed in order) — and that its
last line has the documented shape. SQLite only, in a process of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_load_benchmark_runs_checks_and_ends_with_its_ratio() -> None:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL_PG"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "load", "--quick", "--users", "4", "--updates", "40",
         "--rounds", "1"], cwd=ROOT, env=env, text=True, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"load: \d+\.\d\d mixed-flow/echo updates per second \(SQLite\)",
                        lines[-1]), lines[-1]
    assert "| variant |" in done.stdout and "| mixed flows, SQLite |" in done.stdout
    assert "prenotify" in lines[0] and "feedback" in lines[0]  # the mix it ran


def test_every_flow_is_in_the_mix_even_with_few_users() -> None:
    from bench.load import FLOWS, plan
    from storage.scheme import load_scheme

    plans = plan(4, 40, load_scheme())
    kinds = {flow.kind for flows in plans for flow in flows}
    assert kinds == set(FLOWS)
    assert any(flow.urgent for flows in plans for flow in flows)
