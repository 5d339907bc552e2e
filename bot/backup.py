"""Back up and restore one office: the database and the media directory, together.

A backup is a directory: `database.dump` (PostgreSQL's custom format from `pg_dump`) or
`database.sqlite` (SQLite's online backup, safe while the bot runs), `media.tar.gz`, and
`manifest.json` saying when, from which kind of database and how many rows each table held, so
a restore can be checked against it. The database and the media are taken together because
each media row names its files: restoring one without the other leaves photos without records
or records without photos.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from storage.db import is_sqlite
from storage.models import Base

MANIFEST = "manifest.json"
MEDIA_ARCHIVE = "media.tar.gz"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite"


class BackupError(Exception):
    """A backup or restore that cannot go on, with a sentence for the operator."""


@dataclass(frozen=True)
class BackupReport:
    directory: Path
    row_counts: dict[str, int]
    media_files: int


def postgres_tool(name: str) -> str:
    """`pg_dump`/`pg_restore` from PATH, else the newest Debian cluster's copy."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    raise BackupError(f"{name} was not found: install PostgreSQL's client programs "
                      "(Debian: postgresql-client).")


def _libpq_url(url: str) -> str:
    """pg_dump speaks libpq: `postgresql://…` without SQLAlchemy's `+asyncpg`."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database has nothing to back up.")
    return Path(database)


async def count_rows(db_url: str) -> dict[str, int]:
    """Rows per table of the schema, read through the application's own engine."""
    from storage.db import Database
    database = Database(db_url)
    counts: dict[str, int] = {}
    try:
        async with database.transaction() as session:
            for table in Base.metadata.sorted_tables:
                counts[table.name] = int((await session.execute(
                    select(func.count()).select_from(table))).scalar_one())
    finally:
        await database.dispose()
    return counts


def _run_tool(args: list[str]) -> None:
    # The password may be in the URL: it is passed as an argument, never echoed or logged.
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        first = (done.stderr or "").strip().splitlines()[:1]
        raise BackupError(f"{Path(args[0]).name} failed: {first[0] if first else done.returncode}")


async def backup(db_url: str, media_dir: Path, out: Path) -> BackupReport:
    """Write a backup of the database and the media directory into the new directory `out`."""
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: choose a new directory for the backup.")
    out.mkdir(parents=True, exist_ok=True)
    counts = await count_rows(db_url)
    if is_sqlite(db_url):
        source = sqlite3.connect(_sqlite_path(db_url))
        target = sqlite3.connect(out / SQLITE_COPY)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        _run_tool([postgres_tool("pg_dump"), "--format=custom", "--no-owner",
                   f"--file={out / PG_DUMP}", f"--dbname={_libpq_url(db_url)}"])
    files = 0
    with tarfile.open(out / MEDIA_ARCHIVE, "w:gz") as archive:
        if media_dir.is_dir():
            for path in sorted(media_dir.rglob("*")):
                if path.is_file():
                    archive.add(path, arcname=str(path.relative_to(media_dir)))
                    files += 1
    manifest = {"taken_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "database": "sqlite" if is_sqlite(db_url) else "postgresql",
                "row_counts": counts, "media_files": files}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return BackupReport(out, counts, files)


async def restore(source: Path, db_url: str, media_dir: Path) -> BackupReport:
    """Put a backup back: the database replaced by the backup's, the media directory by its
    files. Checks the restored row counts against the manifest."""
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BackupError(f"{source} is not a backup made by `python -m bot backup` "
                          f"({type(error).__name__}).") from None
    kind = "sqlite" if is_sqlite(db_url) else "postgresql"
    if manifest.get("database") != kind:
        raise BackupError(f"This backup is of a {manifest.get('database')} database; "
                          f"DATABASE_URL names a {kind} one.")
    if kind == "sqlite":
        path = _sqlite_path(db_url)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source / SQLITE_COPY, path)
    else:
        _run_tool([postgres_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
                   "--single-transaction", f"--dbname={_libpq_url(db_url)}",
                   str(source / PG_DUMP)])
    staging = media_dir.with_name(media_dir.name + ".restoring")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(source / MEDIA_ARCHIVE, "r:gz") as archive:
        archive.extractall(staging, filter="data")
    if media_dir.exists():
        shutil.rmtree(media_dir)
    os.replace(staging, media_dir)
    counts = await count_rows(db_url)
    expected = manifest.get("row_counts", {})
    differ = sorted(name for name, n in expected.items() if counts.get(name) != n)
    if differ:
        raise BackupError("The restored database does not match the backup's manifest in: "
                          + ", ".join(differ))
    files = sum(1 for p in media_dir.rglob("*") if p.is_file())
    return BackupReport(source, counts, files)
