"""A PostgreSQL connection that sat idle is tested before use; one in steady use is not.

The server going away (a restart, a failover) is met after a quiet spell: the person's next
transaction must not be the one that finds out. PostgreSQL only: SQLite has no server to lose.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.db import Database
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL: run `make test`")


async def _backend_pid(db: Database) -> int:
    async with db.transaction() as s:
        return await s.scalar(text("SELECT pg_backend_pid()"))


async def _terminate(pid: int) -> None:
    admin = Database(PG_URL, pool_size=1, max_overflow=0)
    try:
        async with admin.transaction() as s:
            await s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()


async def test_an_idle_connection_killed_by_the_server_is_replaced_unseen() -> None:
    db = Database(PG_URL, pool_size=1, max_overflow=0, ping_after_idle=0.0)
    try:
        first = await _backend_pid(db)
        await _terminate(first)
        second = await _backend_pid(db)   # no error: the ping found the dead connection
        assert second != first
    finally:
        await db.dispose()


async def test_a_connection_in_steady_use_is_not_pinged() -> None:
    db = Database(PG_URL, pool_size=1, max_overflow=0, ping_after_idle=3600.0)
    try:
        pid = await _backend_pid(db)
        # No round trip spent testing it, so its server vanishing fails one transaction (a
        # database fault, which the doors retry); the pool then connects afresh.
        await _terminate(pid)
        with pytest.raises(DBAPIError):
            await _backend_pid(db)
        assert await _backend_pid(db) != pid
    finally:
        await db.dispose()
