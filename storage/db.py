"""Engine, sessions and the transaction every operation runs in.

Built in the composition root (bot/) and passed in; nothing here connects at import time.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (AsyncEngine, AsyncSession, async_sessionmaker,
                                    create_async_engine)

from storage.errors import NotAllowed
from storage.models import AuditEvent
from storage.outbox import QUEUED

log = logging.getLogger(__name__)


SQLITE_BUSY_SECONDS = 30  # how long a transaction waits for SQLite's write lock


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys, a busy timeout and immediate writes."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, **kwargs)
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
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
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
        self._sqlite = is_sqlite(url)
        self._turn: asyncio.Lock | None = None
        self._turn_loop: asyncio.AbstractEventLoop | None = None
        self._turn_owner: asyncio.Task[Any] | None = None
        # Called after a transaction that queued outbox rows commits (the dispatcher's wake).
        self.outbox_listeners: list[Callable[[], None]] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commits on success, rolls back on any exception.

        A refusal by the role matrix rolls back the change but is itself audited (DESIGN §8),
        so its audit row is written afterwards in a transaction of its own.
        """
        async with self._writer_turn():
            try:
                async with self.sessions() as session, session.begin():
                    yield session
            except NotAllowed as refusal:
                await self._audit_refusal(refusal)
                raise
        if session.info.get(QUEUED):
            for listener in self.outbox_listeners:
                listener()

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        """On SQLite, this process's transactions take turns on an asyncio lock.

        Every transaction begins IMMEDIATE, so SQLite admits one at a time anyway; without the
        lock the others poll its busy handler, which sleeps 1, 2, 5 … 100 ms between tries and
        leaves the event loop idle while updates queue up. With it they wait in order and start
        the moment the previous one ends. Other processes still meet SQLite's busy timeout. A
        transaction opened inside another by the same task skips the queue (SQLite then refuses
        it after the busy timeout, as before); any other wait longer than the busy timeout ends
        with the error SQLite would have raised.
        """
        if not self._sqlite:
            yield
            return
        task = asyncio.current_task()
        if task is not None and task is self._turn_owner:
            yield
            return
        lock = self._lock_for_loop()
        if lock.locked():
            try:
                async with asyncio.timeout(SQLITE_BUSY_SECONDS):
                    await lock.acquire()
            except TimeoutError:
                raise OperationalError("BEGIN IMMEDIATE", None,
                                       sqlite3.OperationalError("database is locked")) from None
        else:
            await lock.acquire()
        self._turn_owner = task
        try:
            yield
        finally:
            self._turn_owner = None
            lock.release()

    def _lock_for_loop(self) -> asyncio.Lock:
        """The turn lock of the running event loop (a Database may outlive one loop)."""
        loop = asyncio.get_running_loop()
        if self._turn is None or self._turn_loop is not loop:
            self._turn, self._turn_loop = asyncio.Lock(), loop
        return self._turn

    async def _audit_refusal(self, refusal: NotAllowed) -> None:
        async with self.sessions() as session, session.begin():
            session.add(AuditEvent(actor_id=refusal.actor_id, actor_label=refusal.actor_label,
                                   action=refusal.action, outcome="refused",
                                   target_type=refusal.target_type, target_id=refusal.target_id,
                                   reason=refusal.sentence))

    async def dispose(self) -> None:
        await self.engine.dispose()
