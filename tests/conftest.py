"""The test bed: every database test runs on SQLite and on PostgreSQL (DESIGN §3).

`make test` starts a throwaway PostgreSQL server and sets DATABASE_URL_PG. Run without it
(plain `pytest`), the PostgreSQL half is skipped with a message saying how to run it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from storage.db import Database
from storage.models import Base
from storage.scheme import Scheme, load_scheme

PG_URL = os.environ.get("DATABASE_URL_PG")
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
