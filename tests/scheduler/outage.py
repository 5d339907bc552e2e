"""A database that can be taken away and given back, on either engine.

SQLite: the database file's folder is renamed away (nothing can open it) and back.
PostgreSQL: the code under test reaches the server through a loopback TCP relay; cutting the
relay drops every open connection and refuses new ones (as a server restart or a network
failure does), restoring it listens on the same port again.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from sqlalchemy import make_url

from storage.db import Database
from storage.models import Base


class _Relay:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.listen_port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.listen_port,
                                                  reuse_address=True)
        self.listen_port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    sink.transport.abort()
                self._writers.discard(sink)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


class Outage:
    """`database` is the code under test's Database; `cut()` takes it away, `restore()` back."""

    def __init__(self, database: Database, relay: _Relay | None, home: Path | None) -> None:
        self.database, self._relay, self._home = database, relay, home

    @classmethod
    async def on(cls, db: Database, tmp_path: Path) -> Outage:
        if db.dialect == "postgresql":
            url = make_url(str(db.engine.url.render_as_string(hide_password=False)))
            relay = _Relay(url.host or "127.0.0.1", url.port or 5432)
            await relay.start()
            database = Database(url.set(host="127.0.0.1", port=relay.listen_port)
                                .render_as_string(hide_password=False), pool_size=5,
                                max_overflow=10)
            return cls(database, relay, None)
        home = tmp_path / "outage"
        home.mkdir()
        database = Database(f"sqlite+aiosqlite:///{home / 'bot.db'}")
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        return cls(database, None, home)

    async def cut(self) -> None:
        if self._relay is not None:
            await self._relay.cut()
        else:
            assert self._home is not None
            await self.database.engine.dispose()
            self._home.rename(self._home.with_name("outage-away"))

    async def restore(self) -> None:
        if self._relay is not None:
            await self._relay.start()
        else:
            assert self._home is not None
            self._home.with_name("outage-away").rename(self._home)

    async def close(self) -> None:
        await self.database.dispose()
        if self._relay is not None:
            await self._relay.cut()
