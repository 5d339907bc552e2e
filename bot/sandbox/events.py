"""Live updates for the page: one server-sent-events stream with everything that changes.

The page listens to `/api/events` only. Into it go the Telegram and Slack emulators' own event
streams (read over loopback, as any client would, and tagged with their `source`), and the
sandbox's events: the outbox moved, the clock moved, a piece stopped or started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

KEEP_ALIVE_SECONDS = 15
QUEUE_SIZE = 2000


class EventBus:
    """Fan-out of JSON events to every page that is listening."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._closed = False

    def publish(self, source: str, kind: str, **data: Any) -> None:
        event = {"source": source, "type": kind, **data}
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # A page that stopped reading: end its stream; EventSource reconnects and the
                # page fetches everything afresh.
                self._queues.discard(queue)
                _end(queue)

    def close(self) -> None:
        self._closed = True
        for queue in list(self._queues):
            _end(queue)
        self._queues.clear()

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """GET /api/events: `event: <source>` lines with JSON data, until the page leaves."""
        response = web.StreamResponse(headers={"Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        response.content_type = "text/event-stream"
        await response.prepare(request)
        if self._closed:
            return response
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._queues.add(queue)
        try:
            await response.write(b"retry: 1000\n: connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEP_ALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if event is None:
                    break
                body = json.dumps(event, ensure_ascii=False, default=str)
                await response.write(f"event: {event['source']}\ndata: {body}\n\n".encode())
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass  # the page went away
        finally:
            self._queues.discard(queue)
        return response


def _end(queue: asyncio.Queue[dict[str, Any] | None]) -> None:
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)


class Relay:
    """Reads an emulator's `/_emulator/events` stream and republishes each event on the bus."""

    def __init__(self, bus: EventBus, source: str, url: str) -> None:
        self.bus, self.source, self.url = bus, source, url
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"relay-{self.source}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                try:
                    async with session.get(self.url) as stream:
                        self.connected.set()
                        await self._read(stream)
                except (aiohttp.ClientError, ConnectionError) as error:
                    log.debug("%s event stream interrupted: %s", self.source, error)
                await asyncio.sleep(0.5)  # the emulator is restarting or stopping

    async def _read(self, stream: aiohttp.ClientResponse) -> None:
        kind, data = "message", ""
        async for raw in stream.content:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif not line and data:
                try:
                    event = json.loads(data)
                except ValueError:
                    event = {}
                event.pop("type", None)
                self.bus.publish(self.source, kind, **event)
                kind, data = "message", ""
