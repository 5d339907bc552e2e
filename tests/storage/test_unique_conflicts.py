"""A unique key met twice leaves storage as Conflict, on both databases: the handled-once key
recorded by a transaction that lost the race, and any duplicate at commit; a broken rule that
is not a duplicate (a missing value) stays the database's error, a bug to be seen."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from storage.errors import ALREADY_RECORDED, Conflict
from storage.models import Person, ProcessedUpdate
from storage.operations.updates import mark_processed


async def test_a_key_recorded_twice_is_a_conflict(db) -> None:
    async with db.transaction() as s:
        await mark_processed(s, "tg:1")
    with pytest.raises(Conflict):
        async with db.transaction() as s:
            await mark_processed(s, "tg:1")


async def test_two_deliveries_racing_leave_one_effect_and_one_conflict(db) -> None:
    async def deliver() -> str:
        try:
            async with db.transaction() as s:
                await mark_processed(s, "tg:race")
                await asyncio.sleep(0.05)   # both are inside before either commits
        except Conflict:
            return "conflict"
        return "handled"

    outcomes = sorted(await asyncio.gather(deliver(), deliver()))
    assert outcomes == ["conflict", "handled"]


async def test_a_duplicate_at_commit_is_a_conflict_with_a_sentence(db) -> None:
    async with db.transaction() as s:
        s.add(ProcessedUpdate(key="slack:in:x"))
    with pytest.raises(Conflict) as refused:
        async with db.transaction() as s:
            await s.execute(insert(ProcessedUpdate.__table__), {"key": "slack:in:x"})
    assert refused.value.sentence == ALREADY_RECORDED


async def test_a_missing_value_is_not_mistaken_for_a_duplicate(db) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            await s.execute(insert(Person.__table__), {"name": None})
