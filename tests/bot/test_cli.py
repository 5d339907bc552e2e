"""The command line end to end, as an admin would run it, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import PG_URL
from tests.storage.test_migrations import _fresh_pg_database

ROOT = Path(__file__).resolve().parents[2]


def cli(url: str, *args: str, input: str | None = None, media_dir: Path | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` on `url`; Telegram's token and name only when `env` gives them."""
    inherited = {k: v for k, v in os.environ.items()
                 if k not in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_USERNAME")}
    env = {**inherited, "DATABASE_URL": url, "SCHEME_FILE": "", **(env or {})}
    if media_dir is not None:
        env["MEDIA_DIR"] = str(media_dir)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, input=input, timeout=120)


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    if not PG_URL:
        pytest.skip("PostgreSQL half: run `make test` (or set DATABASE_URL_PG)")
    return await _fresh_pg_database("cli_check")


def test_migrate_invite_people_export(url: str, tmp_path: Path) -> None:
    assert cli(url, "migrate").returncode == 0
    made = cli(url, "invite", "--name", "Ann Smith", "--area", "Shropshire",
               env={"TELEGRAM_BOT_USERNAME": "WMAmbBot"})
    assert made.returncode == 0, made.stderr
    assert "https://t.me/WMAmbBot?start=" in made.stdout
    refused = cli(url, "invite", "--name", "Bob", "--area", "Gloucestershire")
    assert refused.returncode == 1
    assert "'Gloucestershire' is not one of the scheme's areas" in refused.stderr
    assert "Traceback" not in refused.stderr
    listed = cli(url, "people")
    assert "Command line\tadmin" in listed.stdout

    out = tmp_path / "extracts"
    exported = cli(url, "export", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    for name, first in (("engagements", "Engagement"), ("feedback", "Feedback"),
                        ("follow_ups", "Follow-up"), ("grants", "Grant"), ("hours", "Entry"),
                        ("expenses", "Claim"), ("media", "Item"), ("meetings", "Meeting")):
        with open(out / f"{name}.csv", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        assert header[0] == first
    assert load_workbook(out / "extracts.xlsx").sheetnames == [
        "Engagements", "Feedback", "Follow-ups", "Grants", "Hours", "Expenses", "Media",
        "Meetings"]
    again = cli(url, "export", "--out", str(out))
    assert again.returncode == 1 and "--force" in again.stderr


def test_a_typo_in_the_scheme_stops_start_up(tmp_path: Path) -> None:
    broken = tmp_path / "scheme.yaml"
    text = (ROOT / "schemes/west-mercia.yaml").read_text()
    line = text.splitlines().index(next(row for row in text.splitlines()
                                        if row.startswith("  grant_cap:"))) + 1
    broken.write_text(text.replace("  grant_cap:", "  grant_kap:"))
    env = {**os.environ, "SCHEME_FILE": str(broken),
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}
    result = subprocess.run([sys.executable, "-m", "bot", "migrate"], cwd=ROOT, env=env,
                            text=True, capture_output=True, timeout=60)
    assert result.returncode == 2
    assert f"{broken} line {line}: limits.grant_kap: unknown key" in result.stderr


def test_run_without_tokens_says_which_are_missing(tmp_path: Path) -> None:
    result = cli(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", "run")
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_subject_access_bundle_and_erase(url: str, tmp_path: Path) -> None:
    assert cli(url, "migrate").returncode == 0
    assert cli(url, "invite", "--name", "Ann Smith", "--area", "Shropshire").returncode == 0
    out = tmp_path / "ann.zip"
    made = cli(url, "export", "--person", "1", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert out.is_file() and "Subject-access bundle for person 1" in made.stdout
    again = cli(url, "export", "--person", "1", "--out", str(out))
    assert again.returncode == 1 and "--force" in again.stderr
    missing = cli(url, "erase", "--person", "99", "--yes")
    assert missing.returncode == 1 and "There is no person with id 99." in missing.stderr
    last_admin = cli(url, "erase", "--person", "1", "--yes")
    assert last_admin.returncode == 1 and "last administrator" in last_admin.stderr
    declined = cli(url, "erase", "--person", "1", input="n\n")
    assert declined.returncode == 1


def test_the_slack_manifest_declares_what_the_app_uses() -> None:
    import yaml
    manifest = yaml.safe_load((ROOT / "deploy/slack-app-manifest.yaml").read_text())
    assert manifest["features"]["slash_commands"][0]["command"] == "/ambassadors"
    assert {"chat:write", "commands", "im:write", "files:write", "users:read"} <= set(
        manifest["oauth_config"]["scopes"]["bot"])
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
