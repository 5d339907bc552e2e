"""Engine, sessions and the transaction every operation runs in.

Built in the composition root (bot/) and passed in; nothing here connects at import time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (AsyncEngine, AsyncSession, async_sessionmaker,
                                    create_async_engine)

from storage.errors import NotAllowed
from storage.models import AuditEvent

log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys, a busy timeout and immediate writes."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: two transactions racing for the last pounds
        # of the fund queue behind each other instead of one failing on a stale snapshot.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine and its session factory; `transaction()` is the unit of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commits on success, rolls back on any exception.

        A refusal by the role matrix rolls back the change but is itself audited (DESIGN §8),
        so its audit row is written afterwards in a transaction of its own.
        """
        try:
            async with self.sessions() as session, session.begin():
                yield session
        except NotAllowed as refusal:
            await self._audit_refusal(refusal)
            raise

    async def _audit_refusal(self, refusal: NotAllowed) -> None:
        async with self.sessions() as session, session.begin():
            session.add(AuditEvent(actor_id=refusal.actor_id, actor_label=refusal.actor_label,
                                   action=refusal.action, outcome="refused",
                                   target_type=refusal.target_type, target_id=refusal.target_id,
                                   reason=refusal.sentence))

    async def dispose(self) -> None:
        await self.engine.dispose()
