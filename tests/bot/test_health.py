"""/healthz says what is wrong, with 503, and never hangs (DESIGN §10)."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket

import aiohttp
from aiohttp import web

from bot.web import healthz
from scheduler.runner import LEADER_LOCK_KEY, ScheduleRunner
from storage.db import Database
from storage.models import Outbox


async def ask(handler) -> tuple[int, dict]:
    app = web.Application()
    app.router.add_get("/healthz", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status, await response.json()
    finally:
        await runner.cleanup()


async def test_healthy_with_a_leader_and_a_quiet_outbox(db, scheme) -> None:
    schedules = ScheduleRunner(db, scheme, name="health-test")
    await schedules.start()
    try:
        assert await schedules.wait_until_leader(10)
        status, report = await ask(healthz(db, schedules=schedules,
                                           leader_lock_key=LEADER_LOCK_KEY))
    finally:
        await schedules.stop()
    assert (status, report) == (200, {"ok": True, "outbox_lag_seconds": 0.0,
                                      "scheduler_leader": "this process"})


async def test_no_leader_is_unhealthy(db, scheme) -> None:
    idle = ScheduleRunner(db, scheme, name="never-started")
    status, report = await ask(healthz(db, schedules=idle, leader_lock_key=LEADER_LOCK_KEY))
    assert status == 503 and report["reason"] == "schedules: no process is leading them"


async def test_a_message_waiting_too_long_is_unhealthy(db) -> None:
    async with db.transaction() as s:
        s.add(Outbox(transport="slack", destination="#alerts", event="x",
                     payload={"text": "waiting"},
                     next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)))
    status, report = await ask(healthz(db, max_outbox_lag=300))
    assert status == 503 and report["reason"].startswith("outbox: a message has waited 6")
    assert report["outbox_lag_seconds"] >= 600


async def test_database_refusing_connections_is_503_with_the_reason() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # nothing listens here once closed
    db = Database(f"postgresql+asyncpg://nobody:x@127.0.0.1:{port}/none")
    try:
        status, report = await ask(healthz(db))
    finally:
        await db.dispose()
    assert status == 503 and report["reason"].startswith("database unreachable: ")


async def test_database_that_hangs_is_503_not_a_hang() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)   # accept the connection and never answer

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    db = Database(f"postgresql+asyncpg://nobody:x@127.0.0.1:{port}/none")
    try:
        status, report = await asyncio.wait_for(ask(healthz(db, timeout=0.5)), 10)
    finally:
        server.close()
        for writer in accepted:
            writer.close()
        await db.dispose()
    assert (status, report["reason"]) == (503, "database did not answer within 0.5 s")
