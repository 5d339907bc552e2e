"""Walking the personal-data map over the database: the records a person owns, and every
text or JSON value of every mapped column, row by row, to find or rewrite what names someone.
Used by erasure and by find-person/redact alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import personal_data as pd
from storage.models import Base


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def key_of(t: Table, row: Any) -> tuple[Any, ...]:
    return tuple(row._mapping[c.name] for c in t.primary_key.columns)


def where_key(t: Table, key: tuple[Any, ...]) -> Any:
    return [c == v for c, v in zip(t.primary_key.columns, key, strict=True)]


def owner_condition(entry: pd.PersonalField, person_id: int) -> Any | None:
    """SQL for "this row is the person's" by the entry's owner link (None: not by id)."""
    link = entry.owner
    if link.by != "id":
        return None
    t = table(entry.table)
    column = t.columns[link.column]
    if link.through is None:
        return column == person_id
    other_name, other_column = link.through.split(".")
    other = table(other_name)
    referred = next(fk.column for fk in column.foreign_keys if fk.column.table is other)
    return column.in_(select(referred).where(other.columns[other_column] == person_id))


async def owned_keys(session: AsyncSession, person_id: int) -> dict[str, set[tuple[Any, ...]]]:
    """Per table, the primary keys of the rows the person owns (by any entry's owner link)."""
    owned: dict[str, set[tuple[Any, ...]]] = {"people": {(person_id,)}}
    for name, entries in pd.by_table().items():
        t = table(name)
        for entry in entries:
            condition = owner_condition(entry, person_id)
            if condition is None or name == "people":
                continue
            rows = (await session.execute(select(*t.primary_key.columns).where(condition))).all()
            owned.setdefault(name, set()).update(tuple(r) for r in rows)
    return owned


def text_entries(tables: set[str] | None = None) -> dict[str, list[pd.PersonalField]]:
    """The map's text and JSON columns, per table."""
    out: dict[str, list[pd.PersonalField]] = {}
    for entry in pd.entries():
        column = entry.column_object()
        if isinstance(column.type, String | Text | JSON) and (tables is None
                                                              or entry.table in tables):
            out.setdefault(entry.table, []).append(entry)
    return out


@dataclass
class Value:
    """One mapped value of one row, as read."""
    table: str
    key: tuple[Any, ...]
    column: str
    value: Any
    row: Any


async def values(session: AsyncSession, *, skip: set[str] = frozenset(),  # type: ignore[assignment]
                 extra: Callable[[Table], list[Any]] | None = None) -> AsyncIterator[Value]:
    """Every non-empty text or JSON value of every mapped column, streamed table by table
    (`extra` adds columns a caller needs to judge a row, e.g. the outbox's destination)."""
    for name, entries in text_entries().items():
        if name in skip:
            continue
        t = table(name)
        columns = [t.columns[e.column] for e in entries]
        more = [c for c in (extra(t) if extra else []) if c not in columns]
        statement = select(*t.primary_key.columns, *columns, *more)
        result = await session.stream(statement.execution_options(yield_per=500))
        async for row in result:
            key = key_of(t, row)
            for column in columns:
                value = row._mapping[column.name]
                if value not in (None, "", {}, []):
                    yield Value(name, key, column.name, value, row)
