"""Per-chat locks across processes (DESIGN §10, several workers on one PostgreSQL).

Two workers behind a load balancer may each receive an update of the same chat; a session-level
advisory lock keyed by the chat makes them take turns, so one person's form is never advanced by
two processes at once. On SQLite there is one process and its in-process ordering suffices.

The locks use an engine of their own: a lock is held for the whole handling of an update, which
opens its own transactions, and sharing one pool could leave every connection holding a lock
while the handlers wait for a connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.db import is_sqlite

log = logging.getLogger(__name__)
UNAVAILABLE = (OperationalError, InterfaceError, DBAPIError, OSError, TimeoutError)

# Keeps chat locks apart from the scheduler's leader lock and any other user of advisory locks.
CHAT_LOCK_SPACE = 0x6368


def chat_lock_key(transport: str, chat_id: int | str) -> int:
    """A signed 64-bit key for pg_advisory_lock, stable across processes and restarts."""
    digest = hashlib.blake2b(f"{transport}:{chat_id}".encode(), digest_size=6).digest()
    return (CHAT_LOCK_SPACE << 48) | int.from_bytes(digest, "big")


class ChatLocks:
    """`async with locks.hold("telegram", chat_id):` — a no-op on SQLite."""

    def __init__(self, url: str, *, pool_size: int = 16) -> None:
        self.engine: AsyncEngine | None = None
        if not is_sqlite(url):
            self.engine = create_async_engine(url, pool_size=pool_size, max_overflow=4,
                                              pool_pre_ping=True)

    @asynccontextmanager
    async def hold(self, transport: str, chat_id: int | str) -> AsyncIterator[None]:
        if self.engine is None:
            yield
            return
        key = chat_lock_key(transport, chat_id)
        connection = None
        try:
            connection = await self.engine.connect()
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            await connection.commit()
        except UNAVAILABLE as error:
            # The database is away: handle the update anyway. Its own transaction meets the
            # outage and the person is told to try again, rather than hearing nothing.
            log.warning("chat lock not taken, database unavailable: %s", type(error).__name__)
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()
            connection = None
        try:
            yield
        finally:
            if connection is not None:
                try:   # a lost connection has given the lock up with it
                    with contextlib.suppress(*UNAVAILABLE):
                        await connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                                 {"key": key})
                        await connection.commit()
                finally:
                    with contextlib.suppress(Exception):
                        await connection.close()

    async def dispose(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()
