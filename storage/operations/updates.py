"""Incoming updates handled once: the key is written in the same transaction as the effect."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict
from storage.models import ProcessedUpdate, utcnow


async def already_processed(session: AsyncSession, key: str) -> bool:
    return await session.scalar(select(ProcessedUpdate.key).where(
        ProcessedUpdate.key == key)) is not None


async def mark_processed(session: AsyncSession, key: str) -> None:
    """Record `key`; if another transaction recorded it first, the flush fails and the whole
    transaction (with its effect) rolls back — the duplicate changes nothing."""
    if await already_processed(session, key):
        raise Conflict("That message was already handled.")
    session.add(ProcessedUpdate(key=key))
    await session.flush()


async def forget_processed_before(session: AsyncSession, before: dt.datetime) -> int:
    result = await session.execute(delete(ProcessedUpdate).where(
        ProcessedUpdate.processed_at < before))
    return result.rowcount or 0


async def remember(session: AsyncSession, key: str) -> None:
    session.add(ProcessedUpdate(key=key, processed_at=utcnow()))
