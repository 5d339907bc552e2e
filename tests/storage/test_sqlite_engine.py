"""SQLite as storage/db.py configures it, through SQLAlchemy's own aiosqlite dialect and its
public event hooks only: rows, counts, RETURNING, streaming, errors that roll back, and every
transaction holding the write lock from its first statement (BEGIN IMMEDIATE).
SQLite only: PostgreSQL has no such configuration."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import OperationalError

from storage.db import Database
from storage.errors import Conflict
from storage.models import Base, ProcessedUpdate


@pytest.fixture
async def sqlite_db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()


async def test_the_configured_url_runs_through_sqlalchemys_own_dialect(sqlite_db) -> None:
    assert sqlite_db.engine.dialect.driver == "aiosqlite"
    assert type(sqlite_db.engine.dialect).__module__ == "sqlalchemy.dialects.sqlite.aiosqlite"
    async with sqlite_db.transaction() as s:
        pragmas = [(await s.execute(text(f"PRAGMA {name}"))).scalar_one()
                   for name in ("journal_mode", "foreign_keys", "busy_timeout")]
    assert pragmas == ["wal", 1, 30_000]


async def test_rows_counts_ids_and_returning(sqlite_db) -> None:
    table = ProcessedUpdate.__table__
    async with sqlite_db.transaction() as s:
        result = await s.execute(insert(table), [{"key": f"k{i}"} for i in range(5)])
        assert result.rowcount == 5
        returned = await s.execute(insert(table).returning(table.c.key), {"key": "k5"})
        assert returned.scalar_one() == "k5"
        raw = await s.execute(text("INSERT INTO processed_updates (key, processed_at) "
                                     "VALUES ('k6', '2026-11-24 12:00:00')"))
        assert raw.lastrowid and raw.lastrowid > 0
        changed = await s.execute(update(table).where(table.c.key.in_(["k1", "k2", "nope"]))
                                  .values(key=table.c.key + "x"))
        assert changed.rowcount == 2
        keys = (await s.scalars(select(ProcessedUpdate.key).order_by(
            ProcessedUpdate.key))).all()
    assert keys == ["k0", "k1x", "k2x", "k3", "k4", "k5", "k6"]
    async with sqlite_db.transaction() as s:
        first = (await s.execute(select(table.c.key).order_by(table.c.key))).fetchmany(2)
        assert [row.key for row in first] == ["k0", "k1x"]
        streamed = [row.key async for row in await s.stream(select(table.c.key).order_by(
            table.c.key))]
    assert streamed == keys


async def test_errors_roll_back_a_duplicate_as_conflict(sqlite_db) -> None:
    async with sqlite_db.transaction() as s:
        s.add(ProcessedUpdate(key="once"))
    with pytest.raises(Conflict):   # a unique key met twice (storage/db.py)
        async with sqlite_db.transaction() as s:
            await s.execute(insert(ProcessedUpdate.__table__), {"key": "twice"})
            await s.execute(insert(ProcessedUpdate.__table__), {"key": "once"})
    with pytest.raises(OperationalError):
        async with sqlite_db.transaction() as s:
            await s.execute(text("SELECT * FROM no_such_table"))
    async with sqlite_db.transaction() as s:
        assert (await s.scalars(select(ProcessedUpdate.key))).all() == ["once"]


def _can_take_the_write_lock(path) -> bool:
    """Whether another connection (as another process would) gets SQLite's write lock now."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


async def test_a_transaction_takes_the_write_lock_with_its_first_statement(
        sqlite_db, tmp_path) -> None:
    path = tmp_path / "driver.db"
    async with sqlite_db.transaction() as s:
        # BEGIN IMMEDIATE runs before the first statement, even a read: from then on the
        # transaction holds the write lock, so two racing for the fund queue up.
        await s.execute(select(ProcessedUpdate.key))
        assert not _can_take_the_write_lock(path)
        s.add(ProcessedUpdate(key="held"))
    assert _can_take_the_write_lock(path)
    async with sqlite_db.transaction() as s:
        assert [row.key async for row in await s.stream(select(ProcessedUpdate.key))] == ["held"]
        assert not _can_take_the_write_lock(path)
        await s.execute(insert(ProcessedUpdate.__table__), {"key": "after a stream"})
    with pytest.raises(RuntimeError):
        async with sqlite_db.transaction() as s:
            await s.execute(insert(ProcessedUpdate.__table__), {"key": "rolled back"})
            raise RuntimeError("the caller failed")
    async with sqlite_db.transaction():
        pass   # ran nothing: nothing to commit, and no lock left behind
    assert _can_take_the_write_lock(path)
    async with sqlite_db.transaction() as s:
        keys = set((await s.scalars(select(ProcessedUpdate.key))).all())
    assert keys == {"held", "after a stream"}
