"""/healthz says what is wrong, with 503, and never hangs (DESIGN §10)."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket

import aiohttp
from aiohttp import web

from prometheus_client import CollectorRegistry
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.emulators.slack import SlackEmulator
from bot.web import healthz
from scheduler.dispatcher import Dispatcher, SlackSender
from scheduler.runner import LEADER_LOCK_KEY, ScheduleRunner
from storage.db import Database
from storage.models import Outbox


class Clock:
    """A clock the test moves by hand (the dispatcher's and /healthz's idea of now)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


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
                     created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)))
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


async def test_a_message_kept_back_by_retries_is_reported_with_its_true_wait(db, scheme) -> None:
    """Issue 16 case 10: with chat.postMessage failing, back-off keeps moving the row's next
    attempt forward; the lag is still counted from when the message was queued."""
    token = "xoxb-health-test"
    now = dt.datetime.now(dt.UTC)
    clock = Clock(now)
    async with SlackEmulator(bot_token=token, signing_secret="s") as slack:
        slack.add_channel("#ambassador-alerts")
        slack.faults.fail("chat.postMessage", times=1000)
        client = AsyncWebClient(token=token, base_url=slack.api_base_url, retry_handlers=[],
                                timeout=2)
        dispatcher = Dispatcher(db, scheme, {"slack": SlackSender(client)}, clock=clock,
                                backoff_base=1.0, backoff_cap=60.0,
                                registry=CollectorRegistry())
        async with db.transaction() as s:
            s.add(Outbox(transport="slack", destination="#ambassador-alerts", event="x",
                         payload={"text": "stuck"}, created_at=now, next_attempt_at=now))
        try:
            for _ in range(13):                        # 6½ minutes of failures
                await dispatcher.run_once()
                clock.now += dt.timedelta(seconds=30)
            status, report = await ask(healthz(db, max_outbox_lag=300, clock=clock))
        finally:
            await client.session.close() if client.session else None
    async with db.transaction() as s:
        row = (await s.scalars(select(Outbox))).one()
    assert row.status == "pending" and row.attempts >= 5 and row.sent_at is None
    assert status == 503
    assert report["outbox_lag_seconds"] == 390.0
    assert report["reason"] == "outbox: a message has waited 390 s to be sent"
    assert slack.messages("#ambassador-alerts") == []


async def test_the_lag_is_the_oldest_undelivered_message_not_the_oldest_due(db) -> None:
    """A row a dispatcher holds (sending) or has put off still counts; delivered and given-up
    rows do not."""
    now = dt.datetime.now(dt.UTC)
    later = now + dt.timedelta(minutes=5)
    async with db.transaction() as s:
        s.add_all([
            Outbox(transport="slack", destination="#a", event="x", payload={"text": "sent"},
                   status="sent", created_at=now - dt.timedelta(hours=2), sent_at=now),
            Outbox(transport="slack", destination="#a", event="x", payload={"text": "failed"},
                   status="failed", created_at=now - dt.timedelta(hours=1)),
            Outbox(transport="slack", destination="#b", event="x", payload={"text": "held"},
                   status="sending", created_at=now - dt.timedelta(seconds=200),
                   next_attempt_at=later),
            Outbox(transport="slack", destination="#c", event="x", payload={"text": "put off"},
                   status="pending", created_at=now - dt.timedelta(seconds=100),
                   next_attempt_at=later)])
    status, report = await ask(healthz(db, max_outbox_lag=300, clock=Clock(now)))
    assert (status, report["outbox_lag_seconds"]) == (200, 200.0)
    status, report = await ask(healthz(db, max_outbox_lag=300,
                                       clock=Clock(now + dt.timedelta(seconds=150))))
    assert (status, report["outbox_lag_seconds"]) == (503, 350.0)
