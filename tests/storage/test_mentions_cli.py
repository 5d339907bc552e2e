"""find-person, redact --mention and erase from the command line, as a DPO would run them."""

from __future__ import annotations

from pathlib import Path

from storage.db import Database
from tests.bot.test_cli import cli, url  # noqa: F401 — the fixture, on both databases
from tests.storage.privacy_seed import PHONE_IN_GRANT, PUBLIC_EMAIL, PUBLIC_NAME, rich_history


async def test_find_person_redact_and_erase(url: str, scheme, tmp_path: Path) -> None:  # noqa: F811
    media = tmp_path / "media"
    assert cli(url, "migrate").returncode == 0
    db = Database(url)
    try:
        history = await rich_history(db, scheme, media)
    finally:
        await db.dispose()

    found = cli(url, "find-person", "07700 900123", media_dir=media)
    assert found.returncode == 0, found.stderr
    lines = [line.split("\t") for line in found.stdout.splitlines()]
    assert ["feedback", "summary"] in [[t, f] for t, _, f, _ in lines]
    assert ["grant_recommendations", "applicant_contact"] in [[t, f] for t, _, f, _ in lines]
    assert "mentions in" in found.stderr

    redacted = cli(url, "redact", "--mention", PUBLIC_NAME, "--mention", PHONE_IN_GRANT,
                   "--mention", PUBLIC_EMAIL, "--yes", media_dir=media)
    assert redacted.returncode == 0, redacted.stderr
    assert f"Photo {history.media_id}: its caption named them" in redacted.stdout
    assert "--with-media" in redacted.stdout
    again = cli(url, "find-person", PUBLIC_NAME, "07700 900123", PUBLIC_EMAIL, media_dir=media)
    assert again.stdout == "" and "0 mentions" in again.stderr

    short = cli(url, "find-person", "Jo", media_dir=media)
    assert short.returncode == 1 and "too short to search" in short.stderr

    erased = cli(url, "erase", "--person", str(history.cast.ambassador.id), "--yes",
                 media_dir=media)
    assert erased.returncode == 0, erased.stderr
    assert "unsent messages to them cancelled, 3 files deleted" in erased.stdout
    assert cli(url, "find-person", "Ann Shropshire").stderr.startswith("0 mentions")
