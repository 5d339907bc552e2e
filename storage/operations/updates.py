"""Incoming updates handled once: the key is written in the same transaction as the effect."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict
from storage.models import FormDraft, Person, ProcessedUpdate, utcnow


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


@dataclass
class Arrival:
    """What the first read of an incoming update found."""

    seen: bool                              # its key is recorded: handled before, drop it
    person: Person | None                   # who sent it (None: nobody we know)
    draft_state: dict[str, Any] | None = None  # their form in progress, when asked for


async def arrival(session: AsyncSession, key: str, *, telegram_id: int,
                  draft_transport: str | None = None, now: dt.datetime | None = None
                  ) -> Arrival:
    """`already_processed`, the person by Telegram id and (with `draft_transport`) an active
    person's draft, in one query. The draft is read as `drafts.load_draft` reads it: one
    that has expired is deleted and not returned."""
    seen = select(ProcessedUpdate.key).where(ProcessedUpdate.key == key).exists()
    statement = select(Person, seen.label("seen"))
    if draft_transport is not None:
        statement = statement.add_columns(FormDraft.id, FormDraft.state, FormDraft.expires_at) \
            .outerjoin(FormDraft, and_(FormDraft.person_id == Person.id,
                                       FormDraft.transport == draft_transport))
    row = (await session.execute(statement.where(Person.telegram_id == telegram_id))).first()
    if row is None:
        return Arrival(await already_processed(session, key), None)
    person, was_seen = row[0], bool(row[1])
    if was_seen or draft_transport is None or not person.active or row[2] is None:
        return Arrival(was_seen, person)
    draft_id, state, expires_at = row[2], row[3], row[4]
    if expires_at <= (now or utcnow()):
        await session.execute(delete(FormDraft).where(FormDraft.id == draft_id))
        return Arrival(False, person)
    return Arrival(False, person, dict(state))
