"""`python -m bot report …` and `digest --dry-run --chart` as an office would run them, on
SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.bot.test_cli import cli, url  # noqa: F401  (the parametrised database fixture)


def test_report_commands(url: str, tmp_path: Path) -> None:  # noqa: F811
    assert cli(url, "migrate").returncode == 0
    made = cli(url, "report", "panel", "--quarter", "2026-Q3", "--out", str(tmp_path / "q3.pdf"))
    assert made.returncode == 0, made.stderr
    assert "Panel report for July to September 2026 written to" in made.stdout
    text = subprocess.run(["pdftotext", str(tmp_path / "q3.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "report to the police and crime" in text and "Engagements by area" in text

    chart = tmp_path / "out.png"
    digest = cli(url, "digest", "--dry-run", "--week", "2026-W47", "--chart", str(chart))
    assert digest.returncode == 0, digest.stderr
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_periods_get_a_sentence(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"
    refused = cli(url, "report", "panel", "--quarter", "2026-Q5", "--out", "x.pdf")
    assert refused.returncode == 2, refused.stderr
    assert "'2026-Q5' is not a quarter; write it like 2026-Q3" in refused.stderr
