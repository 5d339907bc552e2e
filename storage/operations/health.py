"""What /healthz reads (DESIGN §10): the outbox's lag and whether some process leads the
schedules. Plain reads on a connection the caller opened, so a dead database fails fast there."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import Outbox, OutboxStatus, utcnow

# Failed and unknown are final (the office was told); only these may still be sent.
UNDELIVERED = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)


async def outbox_lag_seconds(connection: AsyncConnection, *,
                             now: dt.datetime | None = None) -> float:
    """How long the oldest message not yet delivered has been waiting since it was queued
    (0 when none waits). Counted from `created_at`, not `next_attempt_at`: back-off moves the
    next attempt forward on every failure, so a message failing for an hour would otherwise
    never look late. A row a dispatcher holds (`sending`) still waits."""
    now = now or utcnow()
    oldest = await connection.scalar(
        select(func.min(Outbox.created_at))
        .where(Outbox.status.in_(UNDELIVERED)))
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite hands back naive UTC through a plain connection
        oldest = oldest.replace(tzinfo=dt.UTC)
    return max((now - oldest).total_seconds(), 0.0)


async def advisory_lock_holder(connection: AsyncConnection, key: int) -> int | None:
    """PostgreSQL: the backend pid holding the session-level advisory lock `key`, if any."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return await connection.scalar(
        text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
             "AND classid = :high AND objid = :low AND objsubid = 1 LIMIT 1"),
        {"high": unsigned >> 32, "low": unsigned & 0xFFFF_FFFF})
