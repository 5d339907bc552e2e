"""Engine, sessions and the transaction every operation runs in.

Built in the composition root (bot/) and passed in; nothing here connects at import time.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (AsyncConnection, AsyncEngine, AsyncSession,
                                    async_sessionmaker, create_async_engine)

from storage.errors import ALREADY_RECORDED, Conflict, NotAllowed, is_unique_violation
from storage.models import AuditEvent
from storage.outbox import QUEUED

log = logging.getLogger(__name__)


SQLITE_BUSY_SECONDS = 30  # how long a transaction waits for SQLite's write lock
GROUP_MAX = 64  # calls sharing one grouped transaction, at most
GROUP_DELAY = 0.002  # seconds a busy group waits for more calls before a small transaction
PING_AFTER_IDLE_SECONDS = 5.0  # a pooled PostgreSQL connection idle this long is tested first

Item = TypeVar("Item")
Result = TypeVar("Result")
# Does the work of every call of a group in the transaction given; one result per item, in order.
GroupWork = Callable[[AsyncSession, Sequence[Item]], Awaitable[Sequence[Result]]]


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys, a busy timeout and immediate writes."""
    if is_sqlite(url):
        engine = create_async_engine(url,
                                     connect_args={"timeout": SQLITE_BUSY_SECONDS}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    ping_after = kwargs.pop("ping_after_idle", PING_AFTER_IDLE_SECONDS)
    engine = create_async_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine, ping_after)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Test a pooled connection before use only when it sat idle (SQLAlchemy's documented
    checkout hook; a `DisconnectionError` makes the pool connect afresh).

    A restarted or failed-over server is met after a quiet spell, and then the ping finds the
    dead connection before a person's transaction does. A connection in steady use skips the
    round trip `pool_pre_ping` would spend on every transaction; if the server goes away while
    it is busy, that one transaction fails as a database fault, which the Telegram and Slack
    doors already answer by trying the update again, and SQLAlchemy replaces the pool's
    connections.
    """
    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        except Exception as error:
            raise DisconnectionError("the pooled connection had gone away") from error
        finally:
            cursor.close()


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
        # The same pool; each statement on its connections commits on its own (`statements`).
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._sqlite = is_sqlite(url)
        self._turn: asyncio.Lock | None = None
        self._turn_loop: asyncio.AbstractEventLoop | None = None
        self._turn_owner: asyncio.Task[Any] | None = None
        # Called after a transaction that queued outbox rows commits (the dispatcher's wake).
        self.outbox_listeners: list[Callable[[], None]] = []
        self._groups: dict[tuple[str, asyncio.AbstractEventLoop], _Group[Any, Any]] = {}

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commits on success, rolls back on any exception.

        A refusal by the role matrix rolls back the change but is itself audited (DESIGN §8),
        so its audit row is written afterwards in a transaction of its own. A unique key met
        twice (another transaction recorded the same thing first) leaves as `Conflict`, so no
        caller outside storage/ handles the database's IntegrityError.
        """
        async with self._writer_turn(), self._storage_errors(), self.sessions() as session, \
                session.begin():
            yield session
        if session.info.get(QUEUED):
            for listener in self.outbox_listeners:
                listener()

    @asynccontextmanager
    async def statements(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose every statement commits on its own, with no BEGIN or COMMIT
        around them (PostgreSQL only): for work whose only write is a single statement, which
        then commits all of itself or nothing, as a transaction would. Its read locks nothing,
        as none does at READ COMMITTED. Two round trips to the server fewer than a
        transaction, the bulk of a small one's wait. Errors leave as from `transaction()`; no
        outbox rows may be queued here."""
        if self._sqlite:
            raise RuntimeError("statements() is for PostgreSQL; SQLite takes transaction()")
        async with self._storage_errors(), self._autocommit.connect() as connection:
            yield connection

    @asynccontextmanager
    async def _storage_errors(self) -> AsyncIterator[None]:
        """A role-matrix refusal audited in a transaction of its own (the refused change rolls
        back); a unique key met twice raised as `Conflict`, so no caller outside storage/
        handles the database's IntegrityError."""
        try:
            yield
        except NotAllowed as refusal:
            await self._audit_refusal(refusal)
            raise
        except IntegrityError as error:
            if is_unique_violation(error):
                raise Conflict(ALREADY_RECORDED) from error
            raise

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

    async def grouped(self, name: str, item: Item, work: GroupWork[Item, Result], *,
                      alone: Callable[[Item], Awaitable[Result]] | None = None) -> Result:
        """`work` for `item` in a transaction shared with the other calls of group `name` that
        are waiting at the same moment (group commit); returns once that transaction committed.

        A statement and a commit each cost a round trip (on SQLite a hop to the driver's thread
        and back, about as much CPU as the statement itself), so many small transactions that
        arrive together — one per incoming update in a burst — are far cheaper as one that does
        each statement once for all of them. A call that finds no transaction of its group
        running starts one at once, alone; the calls that arrive meanwhile share the next.
        Everything each call writes commits together or not at all, as in its own
        transaction. If the shared transaction fails, it is rolled back and each call's work is
        done again alone, in order, so one call's failure (raised to that caller only) never
        costs another its effect. Every call of a group must pass the same `work`.

        `alone`, when given, is how a call that finds nobody else of its group does its work
        instead (a cheaper way for one, such as `statements()`); it must have the same effect.
        """
        loop = asyncio.get_running_loop()
        group = self._groups.get((name, loop))
        if group is None:
            group = self._groups[(name, loop)] = _Group(work)
        if not group.busy():
            # Nobody else of the group: the call's transaction runs in the caller's own task,
            # as an ordinary one would (a task and a future of its own cost a lone update
            # about a tenth of its latency). Calls arriving meanwhile share the next.
            group.alone = True
            try:
                if alone is not None:
                    return await alone(item)
                async with self.transaction() as session:
                    return (await work(session, [item]))[0]
            finally:
                group.alone = False
                group.last_size = 1
                if group.waiting:
                    self._start_runner(group, name, loop)
        future: asyncio.Future[Result] = loop.create_future()
        group.waiting.append((item, future))
        if not group.alone and (group.runner is None or group.runner.done()):
            self._start_runner(group, name, loop)
        return await future

    def _start_runner(self, group: _Group[Any, Any], name: str,
                      loop: asyncio.AbstractEventLoop) -> None:
        # A fresh context: the runner serves every caller, so it carries none's log context.
        group.runner = loop.create_task(self._run_group(group), name=f"db-group-{name}",
                                        context=contextvars.Context())

    async def _run_group(self, group: _Group[Any, Any]) -> None:
        while group.waiting:
            if len(group.waiting) * 2 < group.last_size:
                # Busy (the last transaction was shared by many), yet few are waiting: more
                # are a moment away (sending their replies), so wait for them briefly rather
                # than commit for these few alone (as PostgreSQL's commit_delay does); the
                # CPU this saves per form step is in bench/RESULTS.md, "telegram".
                await asyncio.sleep(GROUP_DELAY)
            # Callers cancelled while waiting (shutdown) are left out before anything is written.
            batch = [(item, future) for item, future in group.waiting[:GROUP_MAX]
                     if not future.done()]
            del group.waiting[:GROUP_MAX]
            group.last_size = len(batch)
            try:
                if len(batch) > 1:
                    try:
                        async with self.transaction() as session:
                            results = await group.work(session, [item for item, _ in batch])
                    except Exception:  # noqa: BLE001 — each is done again alone, below
                        log.debug("grouped transaction of %d failed; each again alone",
                                  len(batch), exc_info=True)
                    else:
                        for (_, future), result in zip(batch, results, strict=True):
                            _settle(future, result)
                        continue
                for item, future in batch:
                    if future.done():
                        continue
                    try:
                        async with self.transaction() as session:
                            result = (await group.work(session, [item]))[0]
                    except Exception as error:  # noqa: BLE001 — it is the caller's to handle
                        _settle(future, error=error)
                    else:
                        _settle(future, result)
            except BaseException:
                for _, future in batch:  # cancelled itself (the loop is closing): so are they
                    future.cancel()
                raise

    async def _audit_refusal(self, refusal: NotAllowed) -> None:
        async with self.sessions() as session, session.begin():
            session.add(AuditEvent(actor_id=refusal.actor_id, actor_label=refusal.actor_label,
                                   action=refusal.action, outcome="refused",
                                   target_type=refusal.target_type, target_id=refusal.target_id,
                                   reason=refusal.sentence))

    async def dispose(self) -> None:
        await self.engine.dispose()


@dataclass
class _Group(Generic[Item, Result]):
    """The calls of one `Database.grouped` name waiting for a transaction, and the task that
    runs their transactions one after another while any are waiting."""

    work: GroupWork[Item, Result]
    waiting: list[tuple[Item, asyncio.Future[Result]]] = field(default_factory=list)
    runner: asyncio.Task[None] | None = None
    alone: bool = False  # a call's transaction is running in the caller's task
    last_size: int = 0  # calls in its last transaction

    def busy(self) -> bool:
        return self.alone or bool(self.waiting) or (
            self.runner is not None and not self.runner.done())


def _settle(future: asyncio.Future[Any], result: Any = None, *,
            error: BaseException | None = None) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
