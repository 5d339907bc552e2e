"""Half-finished forms, saved after every answer (DESIGN §7 "Nothing lost")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FormDraft, Person, utcnow
from storage.scheme import Scheme


async def load_draft(session: AsyncSession, person: Person, transport: str, *,
                     now: dt.datetime | None = None) -> FormDraft | None:
    """The person's draft on this app, or None; an expired draft is dropped, not resumed."""
    now = now or utcnow()
    draft = await session.scalar(select(FormDraft).where(FormDraft.person_id == person.id,
                                                         FormDraft.transport == transport))
    if draft is not None and draft.expires_at <= now:
        await session.delete(draft)
        return None
    return draft


async def save_draft(session: AsyncSession, scheme: Scheme, person: Person, transport: str,
                     form: str, state: dict[str, Any], *, message_id: str | None = None,
                     now: dt.datetime | None = None) -> None:
    """The person's draft on this app becomes `state` (created if there is none).

    One UPDATE in the usual case (a draft exists: every answer after the first); the INSERT
    only when it matched no row.
    """
    now = now or utcnow()
    expires = now + dt.timedelta(days=scheme.limits.draft_expiry_days)
    values: dict[str, Any] = {"form": form, "state": dict(state), "expires_at": expires,
                              "updated_at": now}
    if message_id is not None:
        values["message_id"] = message_id
    result = await session.execute(
        update(FormDraft).where(FormDraft.person_id == person.id,
                                FormDraft.transport == transport).values(**values)
        .execution_options(synchronize_session=False))
    if not result.rowcount:
        session.add(FormDraft(person_id=person.id, transport=transport, form=form,
                              state=dict(state), message_id=message_id, updated_at=now,
                              expires_at=expires))
        await session.flush()


@dataclass
class DraftSave:
    """A draft to write as `save_draft` would, in the one statement that writes every draft
    of a burst of updates (`updates.arrive`). Only for a draft just read in the same
    transaction, which therefore exists and is updated in place."""

    person_id: int
    transport: str
    form: str
    state: dict[str, Any]
    expires_at: dt.datetime
    updated_at: dt.datetime


def draft_save(scheme: Scheme, person: Person, transport: str, form: str,
               state: dict[str, Any], *, now: dt.datetime) -> DraftSave:
    return DraftSave(person.id, transport, form, dict(state),
                     now + dt.timedelta(days=scheme.limits.draft_expiry_days), now)


async def discard_draft(session: AsyncSession, person: Person, transport: str) -> bool:
    result = await session.execute(delete(FormDraft).where(FormDraft.person_id == person.id,
                                                           FormDraft.transport == transport))
    return bool(result.rowcount)
