"""SQLAlchemy's aiosqlite dialect with a cursor that runs each statement in one hop.

aiosqlite runs SQLite on a thread of its own and every call is a hop to it and back: a wake-up
of that thread, then of the event loop (through its self-pipe). SQLAlchemy's adapter makes
three or four hops per statement (open a cursor, execute, fetch the rows, close), so a
transaction of one read and two writes costs about fifteen. Here the cursor is opened, run,
read and closed in a single hop, which halves a small transaction's time and CPU (measured in
a loop of BEGIN / SELECT / INSERT / COMMIT on a file: 2.4 → 1.1 ms; bench/telegram.py).

Everything else is SQLAlchemy's own dialect: SQL, types, pooling, server-side cursors
(`stream`), and errors (the driver's exceptions reach SQLAlchemy's handling unchanged). It
reaches into two private names, aiosqlite's `Connection._execute` (queue a function on the
connection's thread) and `_conn` (the sqlite3 connection that thread owns); the tests run
every statement of the product through it on every run.

`make_engine` uses it for ``sqlite+aiosqlite`` URLs; the URL people configure is unchanged.

A transaction's ``BEGIN IMMEDIATE`` (storage/db.py) is not a hop of its own either: it is held
and run in the hop of the transaction's first statement, just before it (nothing can happen in
between, so the lock is taken exactly as before, and its failure is that statement's); a
transaction that ran no statement commits or rolls back without a hop.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

DRIVER = "aiosqlite_onehop"
DEFERRED = ("BEGIN IMMEDIATE", "BEGIN")  # run in the hop of the statement that follows
_Outcome = tuple[Any, list[Any], int, int | None]


def _run(connection: Any, begin: str | None, operation: str, parameters: Any,
         many: bool) -> _Outcome:
    """On the connection's thread: the held BEGIN, then the whole statement, rows included."""
    if begin is not None:
        connection._conn.execute(begin)
    cursor: sqlite3.Cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor: the statement's outcome is fetched whole in one hop."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # No driver cursor is opened here (that would be a hop): `_run` opens its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int | None:  # type: ignore[override]
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None  # nothing stays open between hops

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        if operation in DEFERRED and not parameters:
            self._adapt_connection.begin_held = operation
            self._description, self._rowcount, self._lastrowid = None, -1, None
            self._rows = collections.deque()
            return None
        try:
            return await_(self._one_hop(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._one_hop(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _one_hop(self, operation: Any, parameters: Any, *, many: bool) -> None:
        adapt = self._adapt_connection
        async with adapt._execute_mutex:
            begin, adapt.begin_held = adapt.begin_held, None
            outcome: _Outcome = await self._connection._execute(
                _run, self._connection, begin, operation, parameters, many)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("begin_held",)
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.begin_held: str | None = None

    def cursor(self, server_side: bool = False) -> Any:
        if server_side and self.begin_held is not None:
            # A streaming cursor runs on aiosqlite's own: the held BEGIN goes first, alone.
            begin, self.begin_held = self.begin_held, None
            try:
                await_(self._connection.execute(begin))
            except Exception as error:
                self._handle_exception(error)
        return super().cursor(server_side)

    def commit(self) -> None:
        if self.begin_held is not None:   # no statement ran: there is nothing to commit
            self.begin_held = None
            return
        super().commit()

    def rollback(self) -> None:
        if self.begin_held is not None:
            self.begin_held = None
            return
        super().rollback()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


class OneHopDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:  # type: ignore[override]
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneHopDialect")


def one_hop_url(url: str | URL) -> URL:
    """``sqlite+aiosqlite://…`` as the same database through this dialect; others unchanged."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        return parsed.set(drivername=f"sqlite+{DRIVER}")
    return parsed
