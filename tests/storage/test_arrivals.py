"""Updates arriving together share one transaction (group commit), and lose nothing by it:
each one's draft and processed-mark commit together or not at all, a failing one costs the
others nothing, and a redelivered one does nothing twice."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, inspect, select

from storage.models import FormDraft, Person, ProcessedUpdate
from storage.operations import drafts, updates
from tests.storage.seed import NOW, Cast

TRANSPORT = "telegram"


async def keys(db) -> set[str]:
    async with db.transaction() as s:
        return set(await s.scalars(select(ProcessedUpdate.key)))


async def test_calls_waiting_together_share_a_transaction_and_fail_alone(db) -> None:
    batches: list[list[str]] = []

    async def work(session, items):
        batches.append(list(items))
        for item in items:
            session.add(ProcessedUpdate(key=item))
            if item == "bad":
                raise ValueError(item)
        return [f"done {item}" for item in items]

    calls = [db.grouped("test", item, work) for item in ("a", "b", "bad", "c")]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert results[:2] == ["done a", "done b"] and results[3] == "done c"
    assert isinstance(results[2], ValueError)
    # The first found nobody else and ran at once, alone; the three that arrived meanwhile
    # shared the next transaction, which failed; then each of them was done again alone, in
    # order.
    assert batches == [["a"], ["b", "bad", "c"], ["b"], ["bad"], ["c"]]
    assert await keys(db) == {"a", "b", "c"}


async def start_form(db, scheme, person, *, now=NOW) -> None:
    async with db.transaction() as s:
        await drafts.save_draft(s, scheme, person, TRANSPORT, "grant",
                                {"form": "grant", "step": "a", "answers": {}}, now=now)


def answer(scheme, text: str, calls: list[str]):
    """A `take` that puts `text` into the draft it was given."""
    async def take(arrived: updates.Arrival) -> drafts.DraftSave | None:
        calls.append(text)
        if arrived.draft_state is None:
            return None
        state = dict(arrived.draft_state, answers={"a": text}, step="b")
        return drafts.draft_save(scheme, arrived.person, TRANSPORT, "grant", state, now=NOW)
    return take


async def test_arrivals_together_save_each_draft_with_its_key(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    ann, bob = cast.ambassador, cast.other_ambassador
    for person in (ann, bob):
        await start_form(db, scheme, person)
    calls: list[str] = []
    arrivals = await asyncio.gather(*(
        updates.arrive(db, key, telegram_id=person.telegram_id, take=answer(scheme, text, calls),
                       draft_transport=TRANSPORT, now=NOW)
        for key, person, text in (("tg:1", ann, "Ann's"), ("tg:2", bob, "Bob's"),
                                  ("tg:3", cast.officer, "officer's"))))
    assert [a.person.id for a in arrivals] == [ann.id, bob.id, cast.officer.id]
    assert [a.seen for a in arrivals] == [False] * 3
    assert arrivals[2].draft_state is None        # the officer has no form in progress
    assert await keys(db) == {"tg:1", "tg:2"}     # recorded only with a draft saved
    async with db.transaction() as s:
        saved = {d.person_id: d for d in await s.scalars(select(FormDraft))}
    assert saved[ann.id].state == {"form": "grant", "step": "b", "answers": {"a": "Ann's"}}
    assert saved[bob.id].state["answers"] == {"a": "Bob's"}
    assert saved[ann.id].expires_at.replace(tzinfo=dt.UTC) == NOW + dt.timedelta(
        days=scheme.limits.draft_expiry_days)

    # Delivered again (alone or with others): seen, and nothing is taken or written twice.
    calls.clear()
    again = await asyncio.gather(
        updates.arrive(db, "tg:1", telegram_id=ann.telegram_id,
                       take=answer(scheme, "again", calls), draft_transport=TRANSPORT, now=NOW),
        updates.arrive(db, "tg:4", telegram_id=999_999, take=answer(scheme, "stranger", calls),
                       draft_transport=TRANSPORT, now=NOW))
    assert again[0].seen and not again[1].seen and again[1].person is None
    assert calls == ["stranger"]
    async with db.transaction() as s:
        draft = await s.scalar(select(FormDraft).where(FormDraft.person_id == ann.id))
    assert draft.state["answers"] == {"a": "Ann's"}


async def test_a_failing_arrival_costs_the_others_nothing(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    ann, bob = cast.ambassador, cast.other_ambassador
    for person in (ann, bob):
        await start_form(db, scheme, person)
    calls: list[str] = []

    async def broken(arrived: updates.Arrival) -> drafts.DraftSave | None:
        raise RuntimeError("the handler failed")

    results = await asyncio.gather(
        updates.arrive(db, "tg:1", telegram_id=ann.telegram_id, take=broken,
                       draft_transport=TRANSPORT, now=NOW),
        updates.arrive(db, "tg:2", telegram_id=bob.telegram_id,
                       take=answer(scheme, "Bob's", calls), draft_transport=TRANSPORT, now=NOW),
        return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and not results[1].seen
    assert await keys(db) == {"tg:2"}
    async with db.transaction() as s:
        states = {d.person_id: d.state for d in await s.scalars(select(FormDraft))}
    assert states[ann.id]["answers"] == {} and states[bob.id]["answers"] == {"a": "Bob's"}


@pytest.mark.parametrize("together", [False, True])
async def test_an_expired_draft_is_dropped_on_arrival(db, scheme, together) -> None:
    cast = await Cast.create(db, scheme)
    await start_form(db, scheme, cast.ambassador,
                     now=NOW - dt.timedelta(days=scheme.limits.draft_expiry_days + 1))
    calls: list[str] = []
    arrivals = [updates.arrive(db, "tg:1", telegram_id=cast.ambassador.telegram_id,
                               take=answer(scheme, "late", calls), draft_transport=TRANSPORT,
                               now=NOW)]
    if together:
        arrivals.insert(0, updates.arrive(db, "tg:0", telegram_id=cast.officer.telegram_id,
                                          take=answer(scheme, "x", calls)))
        arrivals.append(updates.arrive(db, "tg:2", telegram_id=cast.officer.telegram_id + 10**6,
                                       take=answer(scheme, "y", calls)))
    arrived = (await asyncio.gather(*arrivals))[1 if together else 0]
    assert arrived.person.id == cast.ambassador.id and arrived.draft_state is None
    assert await keys(db) == set()
    async with db.transaction() as s:
        assert await s.scalar(select(FormDraft)) is None


@pytest.mark.parametrize("together", [False, True])
async def test_the_sender_reads_the_same_alone_or_with_others(db, scheme, together) -> None:
    """A lone update on PostgreSQL is read without an ORM session (`updates._arrive_alone`):
    the person it gives handlers must be the one a session gives — every field, the area
    loaded, detached — and usable in the transactions that follow."""
    cast = await Cast.create(db, scheme)
    ann = cast.ambassador
    await start_form(db, scheme, ann)
    calls: list[str] = []
    arrivals = [updates.arrive(db, "tg:1", telegram_id=ann.telegram_id,
                               take=answer(scheme, "Ann's", calls), draft_transport=TRANSPORT,
                               now=NOW)]
    if together:
        arrivals.insert(0, updates.arrive(db, "tg:0", telegram_id=cast.officer.telegram_id,
                                          take=answer(scheme, "x", calls)))
    arrived = (await asyncio.gather(*arrivals))[-1]
    person = arrived.person
    async with db.transaction() as s:
        stored = await s.get(Person, ann.id)
        fields = {c.key: getattr(stored, c.key) for c in inspect(Person).column_attrs}
        stored_area = stored.area.name
    assert {key: getattr(person, key) for key in fields} == fields
    assert person.area is not None and person.area.name == stored_area
    assert inspect(person).detached and arrived.draft_state == {
        "form": "grant", "step": "a", "answers": {}}
    async with db.transaction() as s:   # as handlers then use it: a draft saved for them
        await drafts.save_draft(s, scheme, person, TRANSPORT, "grant",
                                {"form": "grant", "step": "c", "answers": {}}, now=NOW)
    async with db.transaction() as s:
        assert (await s.scalar(select(FormDraft).where(FormDraft.person_id == ann.id))
                ).state["step"] == "c"
        assert await s.scalar(select(func.count()).select_from(Person).where(
            Person.telegram_id == ann.telegram_id)) == 1

    # Sent by nobody we know, alone: read apart, and its key found when it comes again.
    stranger = ann.telegram_id + 10**6
    first = await updates.arrive(db, "tg:9", telegram_id=stranger,
                                 take=answer(scheme, "y", calls))
    async with db.transaction() as s:
        await updates.remember(s, "tg:9")
    again = await updates.arrive(db, "tg:9", telegram_id=stranger,
                                 take=answer(scheme, "z", calls))
    assert first.person is None and not first.seen and again.seen and again.seen_at is not None
    assert calls.count("z") == 0
