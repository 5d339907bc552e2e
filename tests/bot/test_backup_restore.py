"""The restore that docs/operations.md promises, run as an operator would, on both databases:
back up, lose things, restore, and find everything as it was at the backup."""

from __future__ import annotations

from pathlib import Path

from bot.backup import count_rows
from tests.bot.test_cli import cli, url  # noqa: F401 — `url`: a fresh database on each engine


async def test_a_backup_restores_the_records_and_the_media(url: str, tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "2026" / "11").mkdir(parents=True)
    photo = media / "2026" / "11" / "market-stall.jpg"
    photo.write_bytes(b"\xff\xd8 a processed photo \xff\xd9")
    assert cli(url, "migrate").returncode == 0
    assert cli(url, "invite", "--name", "Ann Shaw", "--area", "Shropshire").returncode == 0
    before = await count_rows(url)
    assert before["invites"] == 1

    saved = cli(url, "backup", "--out", str(tmp_path / "backup"), media_dir=media)
    assert saved.returncode == 0, saved.stderr
    assert "1 media files" in saved.stdout

    # What goes wrong after the backup: a record added, a photo lost, a stray file.
    assert cli(url, "invite", "--name", "Late Comer", "--area", "Herefordshire").returncode == 0
    photo.unlink()
    (media / "stray.tmp").write_text("not in the backup")
    assert (await count_rows(url))["invites"] == 2

    refused = cli(url, "restore", "--from", str(tmp_path / "backup"), media_dir=media,
                  input="n\n")
    assert refused.returncode == 1 and (await count_rows(url))["invites"] == 2

    restored = cli(url, "restore", "--from", str(tmp_path / "backup"), "--yes",
                   media_dir=media)
    assert restored.returncode == 0, restored.stderr
    assert "row counts match" in restored.stdout
    assert await count_rows(url) == before
    assert photo.read_bytes() == b"\xff\xd8 a processed photo \xff\xd9"
    assert not (media / "stray.tmp").exists()
    assert cli(url, "migrate").returncode == 0


def test_a_backup_is_refused_where_it_does_not_fit(url: str, tmp_path: Path) -> None:
    assert cli(url, "migrate").returncode == 0
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "something").write_text("x")
    refused = cli(url, "backup", "--out", str(busy), media_dir=tmp_path / "media")
    assert refused.returncode == 1 and "not empty" in refused.stderr
    not_a_backup = cli(url, "restore", "--from", str(tmp_path), "--yes",
                       media_dir=tmp_path / "media")
    assert not_a_backup.returncode == 1
    assert "is not a backup" in not_a_backup.stderr
    assert "Traceback" not in not_a_backup.stderr + refused.stderr
