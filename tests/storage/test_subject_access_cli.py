"""`python -m bot export --person/--mention` and `deactivate` end to end, on SQLite and
PostgreSQL: the zip is written and unzips to distinct files, the terminal shows counts and
ids only, and bad requests get a sentence."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from storage.db import Database
from storage.scheme import load_scheme
from tests.bot.test_cli import cli, url  # noqa: F401 — the fixture runs on both databases
from tests.storage.seed import Cast


def test_export_person_writes_a_bundle_and_names_nobody(url: str,  # noqa: F811
                                                       tmp_path: Path) -> None:
    assert cli(url, "migrate").returncode == 0
    assert cli(url, "invite", "--name", "Ann Smith", "--area", "Shropshire").returncode == 0
    out = tmp_path / "sar.zip"
    made = cli(url, "export", "--person", "1", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("Subject-access bundle for person 1: ")
    with zipfile.ZipFile(out) as zipped:
        names = zipped.namelist()
        assert len(names) == len(set(names))
        assert {"summary.html", "records.json", "manifest.json"} <= set(names)
        assert "Ann Smith" in zipped.read("records.json").decode()   # the invite naming her
    assert "Ann Smith" not in made.stdout + made.stderr

    public = cli(url, "export", "--mention", "Ann Smith", "--out", str(tmp_path / "m.zip"))
    assert public.returncode == 0, public.stderr
    # the invite naming her, and the audit line of its creation
    assert public.stdout.startswith("Subject-access bundle for the text given: 2 records from "
                                    "2 tables")
    with zipfile.ZipFile(tmp_path / "m.zip") as zipped:
        tables = json.loads(zipped.read("manifest.json"))["tables"]
    assert {name: t["count"] for name, t in tables.items()} == {"invites": 1, "audit_events": 1}
    assert "Ann Smith" not in public.stdout + public.stderr

    both = cli(url, "export", "--person", "1", "--mention", "Ann", "--out", str(out))
    assert both.returncode == 2 and "not both" in both.stderr
    short = cli(url, "export", "--mention", "A", "--out", str(tmp_path / "short.zip"))
    assert short.returncode == 2 and "at least 3 characters" in short.stderr
    assert "Traceback" not in both.stderr + short.stderr


async def test_deactivate_stops_a_person_and_says_so(url: str) -> None:  # noqa: F811
    assert cli(url, "migrate").returncode == 0
    db = Database(url)
    try:
        ann = (await Cast.create(db, load_scheme(None))).ambassador
    finally:
        await db.dispose()
    done = cli(url, "deactivate", "--person", str(ann.id), "--reason", "asked to stop")
    assert done.returncode == 0, done.stderr
    assert f"Person {ann.id} is deactivated" in done.stdout
    again = cli(url, "deactivate", "--person", str(ann.id))
    assert again.returncode == 1 and "already deactivated" in again.stderr
    missing = cli(url, "deactivate", "--person", "99")
    assert missing.returncode == 1 and "There is no person with id 99." in missing.stderr
