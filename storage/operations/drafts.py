"""Half-finished forms, saved after every answer (DESIGN §7 "Nothing lost")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
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
                     now: dt.datetime | None = None) -> FormDraft:
    now = now or utcnow()
    draft = await session.scalar(select(FormDraft).where(FormDraft.person_id == person.id,
                                                         FormDraft.transport == transport))
    expires = now + dt.timedelta(days=scheme.limits.draft_expiry_days)
    if draft is None:
        draft = FormDraft(person_id=person.id, transport=transport, form=form,
                          state=state, message_id=message_id, updated_at=now,
                          expires_at=expires)
        session.add(draft)
    else:
        draft.form, draft.state, draft.expires_at, draft.updated_at = form, dict(state), \
            expires, now
        if message_id is not None:
            draft.message_id = message_id
    await session.flush()
    return draft


async def discard_draft(session: AsyncSession, person: Person, transport: str) -> bool:
    result = await session.execute(delete(FormDraft).where(FormDraft.person_id == person.id,
                                                           FormDraft.transport == transport))
    return bool(result.rowcount)
