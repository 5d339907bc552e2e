"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio
import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage import migrate
from storage.db import make_engine
from storage.models import Base
from tests.conftest import PG_URL, fresh_pg_database


async def _differences(url: str) -> list:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata))
    finally:
        await engine.dispose()


async def _fresh_pg_database(name: str) -> str:
    # Named per pytest-xdist worker: two workers may want "the same" database at once.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return await fresh_pg_database(PG_URL, f"{name}_{worker}")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_migrations_match_the_models(backend: str, tmp_path) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL half: run `make test` (or set DATABASE_URL_PG)")
        url = await _fresh_pg_database("migrations_check")
    await asyncio.to_thread(migrate.upgrade, url)
    assert await _differences(url) == []
    # An upgrade in production can be undone: down to nothing and up again.
    await asyncio.to_thread(migrate.downgrade, url)
    await asyncio.to_thread(migrate.upgrade, url)
    assert await _differences(url) == []
