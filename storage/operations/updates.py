"""Incoming updates handled once: the key is written in the same transaction as the effect."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from storage.db import Database
from storage.errors import Conflict, is_unique_violation
from storage.models import Area, FormDraft, Person, ProcessedUpdate, utcnow
from storage.operations.drafts import DraftSave


def telegram_key(update_id: int) -> str:
    """The processed-update key of a Telegram update (one spelling, used everywhere)."""
    return f"tg:{update_id}"


async def already_processed(session: AsyncSession, key: str) -> bool:
    return await session.scalar(select(ProcessedUpdate.key).where(
        ProcessedUpdate.key == key)) is not None


async def mark_processed(session: AsyncSession, key: str) -> None:
    """Record `key`, or raise Conflict when it is recorded already — also when another
    transaction recorded it a moment ago (the flush meets the unique key): the caller's whole
    transaction, with its effect, then rolls back, so the duplicate changes nothing. Callers
    see only Conflict, never the database's IntegrityError."""
    if await already_processed(session, key):
        raise Conflict("That message was already handled.")
    session.add(ProcessedUpdate(key=key))
    try:
        await session.flush()
    except IntegrityError as error:
        if is_unique_violation(error):
            raise Conflict("That message was already handled.") from None
        raise


class Repeat(Exception):
    """Another delivery of the same update recorded its key first (`Once.transaction`): this
    one changes nothing and says nothing. Not a `Refused`, so no handler mistakes it for a
    rule saying no."""


@dataclass
class Once:
    """One incoming update's key, recorded exactly once: by the first transaction of its
    handling that is opened through `transaction()` — the one that changes records, so the
    change and the key commit together and a crash cannot separate them — or, when handling
    it changed nothing, by `record()` once it has been answered."""

    db: Database
    key: str
    recorded: bool = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        recording = not self.recorded
        async with self.db.transaction() as session:
            if recording:
                try:
                    await mark_processed(session, self.key)
                except Conflict:
                    raise Repeat(self.key) from None
            yield session
        if recording:   # committed: a transaction that rolled back recorded nothing
            self.recorded = True

    async def record(self) -> None:
        """For an update whose answer changed no record (help, the menu, a refusal)."""
        if self.recorded:
            return
        try:
            async with self.transaction():
                pass
        except Repeat:
            pass   # recorded meanwhile by another delivery: nothing left to do


async def forget_processed_before(session: AsyncSession, before: dt.datetime) -> int:
    result = await session.execute(delete(ProcessedUpdate).where(
        ProcessedUpdate.processed_at < before))
    return result.rowcount or 0


async def remember(session: AsyncSession, key: str) -> None:
    session.add(ProcessedUpdate(key=key, processed_at=utcnow()))


@dataclass
class Arrival:
    """What the first read of an incoming update found (`arrive`)."""

    seen: bool                              # its key is recorded: handled before, drop it
    person: Person | None                   # who sent it (None: nobody we know)
    draft_state: dict[str, Any] | None = None  # their form in progress, when asked for
    seen_at: dt.datetime | None = None      # when it was handled before


# --------------------------------------------------------------------------------------------
# Arrivals in a burst: one transaction for every update that arrives at the same moment
# --------------------------------------------------------------------------------------------


# Given what the update's first read found, the handler's decision, still inside the
# transaction: a draft to save with the update recorded as processed, or None to write nothing.
Take = Callable[[Arrival], Awaitable[DraftSave | None]]


@dataclass
class _Knock:
    key: str
    telegram_id: int
    draft_transport: str | None
    now: dt.datetime
    take: Take


async def arrive(db: Database, key: str, *, telegram_id: int, take: Take,
                 draft_transport: str | None = None, now: dt.datetime | None = None
                 ) -> Arrival:
    """`arrival` and, when `take` returns a `DraftSave`, the draft saved and `key` recorded as
    processed — all in one transaction, committed before this returns.

    The transaction is shared with the other updates arriving at the same moment
    (`Database.grouped`): in a burst, one read, one draft UPDATE and one INSERT of keys for all
    of them, instead of a transaction each. `take` runs inside that transaction and must not
    touch the database itself (it may be run a second time, on a fresh read, when the shared
    transaction fails and each update is done again alone)."""
    return await db.grouped(
        "telegram-arrivals", _Knock(key, telegram_id, draft_transport, now or utcnow(), take),
        _arrive_together,
        alone=partial(_arrive_alone, db) if db.dialect == "postgresql" else None)


# Built once: building a statement costs more CPU than running it on SQLite, and these run for
# every update (expanding parameters take the group's lists).
_ARRIVALS = select(
    Person, FormDraft.transport, FormDraft.id, FormDraft.state, FormDraft.expires_at,
    ProcessedUpdate.key, ProcessedUpdate.processed_at,
).outerjoin(FormDraft, and_(
    FormDraft.person_id == Person.id, FormDraft.active.is_(True),   # the form they are in
    FormDraft.transport.in_(bindparam("transports", expanding=True))),
).outerjoin(ProcessedUpdate, ProcessedUpdate.key.in_(bindparam("keys", expanding=True))
            ).where(Person.telegram_id.in_(bindparam("ids", expanding=True)))
_DRAFTS = FormDraft.__table__
_SAVE_DRAFT = update(_DRAFTS).where(
    _DRAFTS.c.person_id == bindparam("b_person"), _DRAFTS.c.transport == bindparam("b_transport"),
    _DRAFTS.c.form == bindparam("b_form"),
).values(state=bindparam("b_state"),
         expires_at=bindparam("b_expires"), updated_at=bindparam("b_now"))
_RECORD_KEY = insert(ProcessedUpdate.__table__)
_KEYS = ProcessedUpdate.__table__


async def _arrive_together(session: AsyncSession, knocks: Sequence[_Knock]) -> list[Arrival]:
    if len({k.telegram_id for k in knocks}) < len(knocks) or \
            len({k.key for k in knocks}) < len(knocks):
        # Two updates of one person (or one update twice) must not both act on one read: the
        # caller takes each alone, in order.
        raise Conflict("updates of one person arrived together")
    # One read for all: each person with their drafts, and beside every row the keys of the
    # group that are already recorded (usually none: then one row per person and draft).
    keys = [k.key for k in knocks]
    rows = await session.execute(_ARRIVALS, {
        "ids": [k.telegram_id for k in knocks], "keys": keys,
        "transports": sorted({k.draft_transport for k in knocks if k.draft_transport})})
    people: dict[int, Person] = {}
    seen: dict[str, dt.datetime] = {}
    found: dict[tuple[int, str], _Draft] = {}
    for person, transport, draft_id, state, expires_at, seen_key, seen_at in rows:
        people[person.telegram_id] = person
        if seen_key is not None:
            seen[seen_key] = seen_at
        if draft_id is not None:
            found[(person.telegram_id, transport)] = (draft_id, state, expires_at)
    if not people:  # nobody we know sent any of them (rare): their keys read apart
        recorded = await session.execute(select(
            ProcessedUpdate.key, ProcessedUpdate.processed_at).where(ProcessedUpdate.key.in_(keys)))
        seen.update((key, at) for key, at in recorded)
    arrivals: list[Arrival] = []
    expired: list[int] = []
    saves: list[tuple[str, DraftSave]] = []
    for knock in knocks:
        arrived, expired_draft, save = await _decide(
            knock, people.get(knock.telegram_id), knock.key in seen, seen.get(knock.key),
            found.get((knock.telegram_id, knock.draft_transport or "")))
        if expired_draft is not None:
            expired.append(expired_draft)
        if save is not None:
            saves.append((knock.key, save))
        arrivals.append(arrived)
    if expired:
        await session.execute(delete(FormDraft).where(FormDraft.id.in_(expired)))
    if saves:
        await _save_drafts(session, saves)
    return arrivals


# A person's draft in progress as read: its id, state and expiry.
_Draft = tuple[int, dict[str, Any], dt.datetime]


async def _decide(knock: _Knock, person: Person | None, seen: bool, seen_at: dt.datetime | None,
                  draft: _Draft | None) -> tuple[Arrival, int | None, DraftSave | None]:
    """What one update's read means: its `Arrival`, the id of an expired draft to drop (as
    `drafts.load_draft` drops it), and the draft to save with its key (`take`'s answer)."""
    arrived = Arrival(seen, person, seen_at=seen_at)
    expired = None
    if person is not None and not seen and person.active and draft is not None:
        draft_id, state, expires_at = draft
        if expires_at <= knock.now:
            expired = draft_id
        else:
            arrived.draft_state = dict(state)
    save = None if seen else await knock.take(arrived)
    return arrived, expired, save


# PostgreSQL, one update alone (`_arrive_alone`): the read for one person and one key, with no
# expanding lists and no ORM session, and the write in one statement (its draft saved and its
# key inserted only if the draft was there to update).
_PEOPLE, _AREAS = Person.__table__, Area.__table__
_ARRIVAL = select(
    *_PEOPLE.c, *_AREAS.c, _DRAFTS.c.id, _DRAFTS.c.state, _DRAFTS.c.expires_at,
    _KEYS.c.key, _KEYS.c.processed_at,
).select_from(_PEOPLE).outerjoin(_AREAS, _AREAS.c.id == _PEOPLE.c.area_id).outerjoin(
    _DRAFTS, and_(_DRAFTS.c.person_id == _PEOPLE.c.id, _DRAFTS.c.active.is_(True),
                  _DRAFTS.c.transport == bindparam("transport", type_=_DRAFTS.c.transport.type)),
).outerjoin(_KEYS, _KEYS.c.key == bindparam("key", type_=_KEYS.c.key.type)
            ).where(_PEOPLE.c.telegram_id == bindparam("telegram_id"))
_KEY_RECORDED = select(_KEYS.c.key, _KEYS.c.processed_at).where(_KEYS.c.key == bindparam("key"))
_PERSON_FIELDS = [inspect(Person).get_property_by_column(c).key for c in _PEOPLE.c]
_AREA_FIELDS = [inspect(Area).get_property_by_column(c).key for c in _AREAS.c]
_SAVE_DRAFT_WITH_KEY = insert(_KEYS).from_select(
    ["key", "processed_at"],
    select(bindparam("b_key", type_=_KEYS.c.key.type),
           bindparam("b_processed_at", type_=_KEYS.c.processed_at.type))
    .select_from(_SAVE_DRAFT.returning(_DRAFTS.c.id).cte("saved")))


async def _arrive_alone(db: Database, knock: _Knock) -> Arrival:
    """One update's arrival when no other arrives with it, on PostgreSQL: its statements on
    one connection with no transaction around them (`Database.statements`), so two round trips
    instead of five, and no ORM session.

    Nothing is lost by it. Its only write is a single statement (`_SAVE_DRAFT_WITH_KEY`) or
    the drop of an expired draft (never both for one update), and a single statement commits
    all of itself or nothing. A key recorded by another delivery meanwhile fails that
    statement on the unique key, as it would fail a transaction's INSERT."""
    async with db.statements() as connection:
        row = (await connection.execute(_ARRIVAL, {
            "telegram_id": knock.telegram_id, "key": knock.key,
            "transport": knock.draft_transport})).first()
        if row is None:   # nobody we know sent it (rare): its key read apart
            person, draft = None, None
            seen_key, seen_at = (await connection.execute(_KEY_RECORDED, {"key": knock.key})
                                 ).first() or (None, None)
        else:
            person, draft, (seen_key, seen_at) = _person_draft_and_key(row)
        arrived, expired, save = await _decide(knock, person, seen_key is not None, seen_at,
                                               draft)
        if expired is not None:
            await connection.execute(delete(_DRAFTS).where(_DRAFTS.c.id == expired))
        if save is not None:
            result = await connection.execute(_SAVE_DRAFT_WITH_KEY, {
                **_draft_values(save), "b_key": knock.key, "b_processed_at": utcnow()})
            if result.rowcount != 1:
                # The draft went away after it was read (it cannot, under the chat's lock):
                # nothing was written, and the update is handled again.
                raise Conflict("a draft changed while its update was handled")
    return arrived


def _person_draft_and_key(row: Sequence[Any]) -> tuple[Person, _Draft | None,
                                                       tuple[str | None, dt.datetime | None]]:
    """`_ARRIVAL`'s row as the ORM would have loaded it: a detached `Person` (with its `area`),
    as a session's read leaves it once closed, then the draft and the recorded key."""
    people, areas = len(_PERSON_FIELDS), len(_AREA_FIELDS)
    person = Person(**dict(zip(_PERSON_FIELDS, row[:people], strict=True)))
    make_transient_to_detached(person)
    area = None
    if person.area_id is not None:
        area = Area(**dict(zip(_AREA_FIELDS, row[people:people + areas], strict=True)))
        make_transient_to_detached(area)
    set_committed_value(person, "area", area)   # loaded, as `lazy="joined"` loads it
    draft_id, state, expires_at, seen_key, seen_at = row[people + areas:]
    return person, None if draft_id is None else (draft_id, state, expires_at), (seen_key, seen_at)


async def _save_drafts(session: AsyncSession, saves: list[tuple[str, DraftSave]]) -> None:
    """Every draft in one executemany UPDATE, every key in one INSERT (Core statements: no
    unit of work, compiled once and cached)."""
    processed_at = utcnow()   # as `remember` records it: the real time, for retention
    result = await session.execute(_SAVE_DRAFT, [_draft_values(save) for _, save in saves])
    if session.get_bind().dialect.supports_sane_multi_rowcount and result.rowcount != len(saves):
        # A draft went away after it was read (it cannot, under the chat's lock): roll back;
        # each update is then taken alone, through the ordinary path.
        raise Conflict("a draft changed while its update was handled")
    await session.execute(_RECORD_KEY, [{"key": key, "processed_at": processed_at}
                                        for key, _ in saves])


def _draft_values(save: DraftSave) -> dict[str, Any]:
    """`_SAVE_DRAFT`'s parameters for one draft."""
    return {"b_person": save.person_id, "b_transport": save.transport, "b_form": save.form,
            "b_state": dict(save.state), "b_expires": save.expires_at, "b_now": save.updated_at}
