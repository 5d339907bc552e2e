"""The test bed: every database test runs on SQLite and on PostgreSQL (DESIGN §3).

`make test` starts a throwaway PostgreSQL server and sets DATABASE_URL_PG. Run without it
(plain `pytest`), the PostgreSQL half is skipped with a message saying how to run it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from storage.db import Database, make_engine
from storage.models import Base
from storage.scheme import Scheme, load_scheme



async def fresh_pg_database(base_url: str, name: str) -> str:
    """An empty database `name` on `base_url`'s server (dropped first if it was there)."""
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            await conn.execute(text(f"CREATE DATABASE {name}"))
    finally:
        await admin.dispose()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


def _database_of_this_worker(url: str | None) -> str | None:
    """`make test` runs the suite in several pytest-xdist workers: each gets a PostgreSQL
    database of its own on the one throwaway server (and passes it on to the programs its
    tests start), so no worker truncates another's tables."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    own = asyncio.run(fresh_pg_database(url, f"ambassador_test_{worker}"))
    os.environ["DATABASE_URL_PG"] = own
    return own


PG_URL = _database_of_this_worker(os.environ.get("DATABASE_URL_PG"))
_pg_schema_ready = False


@pytest.fixture(scope="session")
def scheme() -> Scheme:
    return load_scheme()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Database]:
    """An empty database with the current schema, on each engine."""
    global _pg_schema_ready
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL half: run `make test` (or set DATABASE_URL_PG)")
        database = Database(PG_URL, pool_size=5, max_overflow=20)
        async with database.engine.begin() as conn:
            if not _pg_schema_ready:
                await conn.run_sync(Base.metadata.drop_all)
                await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
                await conn.run_sync(Base.metadata.create_all)
                _pg_schema_ready = True
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    try:
        yield database
    finally:
        await database.dispose()
