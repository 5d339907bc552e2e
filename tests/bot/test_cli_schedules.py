"""`python -m bot digest` and `python -m bot retention` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from storage.db import Database
from storage.media.store import MediaStore
from storage.models import Feedback, Outbox
from storage.scheme import load_scheme
from tests.bot.test_cli import cli, url  # noqa: F401 — the fixture runs on both databases
from tests.scheduler.test_retention import OLD, seed
from tests.storage.seed import Cast


async def test_digest_prints_or_posts_and_refuses_what_it_cannot_do(url: str,  # noqa: F811
                                                                     tmp_path) -> None:
    assert cli(url, "migrate").returncode == 0
    printed = cli(url, "digest", "--dry-run", "--week", "2026-11-18")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("Weekly digest: Mon 16 Nov 2026 to Sun 22 Nov 2026")
    assert "Nothing was recorded this week" in printed.stdout

    neither = cli(url, "digest")
    assert neither.returncode == 2 and "--now" in neither.stderr
    bad_week = cli(url, "digest", "--now", "--week", "2026-W99")
    assert bad_week.returncode == 2
    assert "'2026-W99' is not a week; write it like 2026-W47" in bad_week.stderr
    assert "Traceback" not in bad_week.stderr

    db = Database(url)
    try:
        async with db.transaction() as s:
            assert await s.scalar(select(func.count()).select_from(Outbox)) == 0
        posted = cli(url, "digest", "--now", "--week", "2026-W47", media_dir=tmp_path)
        assert posted.returncode == 0, posted.stderr
        async with db.transaction() as s:
            rows = (await s.scalars(select(Outbox))).all()
        scheme = load_scheme(None)
        assert [(r.transport, r.destination, r.event) for r in rows] == [
            ("slack", scheme.channels.digest, "weekly_digest")]
        assert rows[0].payload["week"] == "2026-W47"
        assert Path(rows[0].payload["chart_path"]).parent == tmp_path / "charts"
        assert Path(rows[0].payload["chart_path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        await db.dispose()


async def test_retention_dry_run_says_what_would_go_and_changes_nothing(url: str,  # noqa: F811
                                                                        tmp_path) -> None:
    assert cli(url, "migrate").returncode == 0
    db = Database(url)
    try:
        scheme = load_scheme(None)
        store = MediaStore(tmp_path / "media")
        ids = await seed(db, await Cast.create(db, scheme), store)
        dry = cli(url, "retention", "--dry-run", media_dir=store.root)
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.startswith("Retention would remove the personal data past its "
                                     "period from 1 feedback reports (1,095 days), ")
        async with db.transaction() as s:
            old = await s.get(Feedback, ids[OLD])
            assert old.summary.startswith(f"{OLD}: Mrs Jones")
        done = cli(url, "retention", media_dir=store.root)
        assert done.returncode == 0, done.stderr
        # the same sentence, the same counts: what the dry run promised is what was done
        assert done.stdout == dry.stdout.replace("would remove", "removed")
        async with db.transaction() as s:
            old = await s.get(Feedback, ids[OLD])
            assert "Mrs Jones" not in (old.summary or "")
        assert len([p for p in store.root.rglob("*") if p.is_file()]) == 3
        again = cli(url, "retention", "--dry-run")
        assert "nothing is past its retention period" in again.stdout
    finally:
        await db.dispose()
