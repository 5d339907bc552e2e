"""Half-finished forms, saved after every answer (DESIGN §7 "Nothing lost")."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.models import FormDraft, Outbox, OutboxStatus, Person, utcnow
from storage.scheme import Scheme


async def load_draft(session: AsyncSession, person: Person, transport: str, *,
                     now: dt.datetime | None = None) -> FormDraft | None:
    """The form the person is in on this app, or None; an expired draft is dropped, not
    resumed. (Forms put aside are not this: see `kept_draft`.)"""
    return await _live(session, await session.scalar(select(FormDraft).where(
        FormDraft.person_id == person.id, FormDraft.transport == transport,
        FormDraft.active.is_(True))), now or utcnow())


async def kept_draft(session: AsyncSession, person: Person, transport: str, form: str, *,
                     now: dt.datetime | None = None) -> FormDraft | None:
    """The person's draft of `form` on this app, whether they are in it or put it aside."""
    return await _live(session, await session.scalar(select(FormDraft).where(
        FormDraft.person_id == person.id, FormDraft.transport == transport,
        FormDraft.form == form)), now or utcnow())


async def kept_drafts(session: AsyncSession, person: Person, transport: str, *,
                      now: dt.datetime | None = None) -> list[FormDraft]:
    """Every unexpired draft of the person on this app (the expired ones are dropped)."""
    now = now or utcnow()
    found = (await session.scalars(select(FormDraft).where(
        FormDraft.person_id == person.id, FormDraft.transport == transport)
        .order_by(FormDraft.id))).all()
    return [draft for draft in found if await _live(session, draft, now) is not None]


async def _live(session: AsyncSession, draft: FormDraft | None, now: dt.datetime
                ) -> FormDraft | None:
    if draft is not None and draft.expires_at <= now:
        # Abandoned: expires as it always did, whether the person was in it or not.
        await session.delete(draft)
        return None
    return draft


async def save_draft(session: AsyncSession, scheme: Scheme, person: Person, transport: str,
                     form: str, state: dict[str, Any], *, message_id: str | None = None,
                     activate: bool = False, now: dt.datetime | None = None) -> None:
    """The person's draft of `form` on this app becomes `state` (created if there is none).

    `activate` (and any new draft): it becomes the form the person is in, and whichever form
    they were in is put aside, kept as it was. One UPDATE in the usual case (an answer to the
    form they are in); the INSERT only when it matched no row.
    """
    now = now or utcnow()
    expires = now + dt.timedelta(days=scheme.limits.draft_expiry_days)
    values: dict[str, Any] = {"state": dict(state), "expires_at": expires, "updated_at": now}
    if message_id is not None:
        values["message_id"] = message_id
    mine = (FormDraft.person_id == person.id, FormDraft.transport == transport)
    if activate:
        await _put_aside(session, person, transport, form)
        values["active"] = True
    result = await session.execute(
        update(FormDraft).where(*mine, FormDraft.form == form).values(**values)
        .execution_options(synchronize_session=False))
    if not result.rowcount:
        if not activate:
            await _put_aside(session, person, transport, form)
        session.add(FormDraft(person_id=person.id, transport=transport, form=form,
                              state=dict(state), message_id=message_id, updated_at=now,
                              expires_at=expires, active=True))
        await session.flush()


async def _put_aside(session: AsyncSession, person: Person, transport: str, form: str) -> None:
    await session.execute(update(FormDraft).where(
        FormDraft.person_id == person.id, FormDraft.transport == transport,
        FormDraft.form != form, FormDraft.active.is_(True)).values(active=False)
        .execution_options(synchronize_session=False))


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


async def discard_draft(session: AsyncSession, person: Person, transport: str,
                        form: str | None = None) -> bool:
    """Throw away the draft of `form`, or (None) of the form the person is in."""
    which = FormDraft.form == form if form is not None else FormDraft.active.is_(True)
    result = await session.execute(delete(FormDraft).where(
        FormDraft.person_id == person.id, FormDraft.transport == transport, which))
    return bool(result.rowcount)


# A submitted form's notice to its person waits this long for the handler's own thank-you
# (which cancels it); it is delivered only when the process died in between, or the
# thank-you could not be sent.
SUBMITTED_NOTICE_DELAY = dt.timedelta(seconds=30)
SUBMITTED_EVENT = "form_submitted"


async def do_mark_submitted(session: AsyncSession, scheme: Scheme, person: Person,
                            transport: str, state: dict[str, Any], *, notice: str,
                            now: dt.datetime) -> None:
    """In the transaction that writes a form's record: its draft is marked as sent (so a
    Submit delivered or pressed again is answered "already sent", never sent twice or lost)
    and `notice` is queued to the person, to go out if the handler's thank-you does not."""
    ref = f"{SUBMITTED_EVENT}:{person.id}:{state['form']}:{secrets.token_hex(6)}"
    row = outbox.to_person(session, person, SUBMITTED_EVENT, notice, ref=ref)
    if row is not None:
        row.next_attempt_at = now + SUBMITTED_NOTICE_DELAY
    state["submitted"] = {"at": now.isoformat(), "notice": ref if row is not None else None}
    await save_draft(session, scheme, person, transport, state["form"], state, now=now)


async def do_close_submitted(session: AsyncSession, person: Person, transport: str,
                             state: dict[str, Any]) -> bool:
    """The person has been told their form was sent (or is being told now): its draft goes,
    and so does its queued notice if still waiting. True when the notice was still waiting
    (nobody had told them yet)."""
    await discard_draft(session, person, transport, state["form"])
    ref = (state.get("submitted") or {}).get("notice")
    if ref is None:
        return True
    result = await session.execute(delete(Outbox).where(
        Outbox.ref == ref, Outbox.status == OutboxStatus.PENDING.value))
    return bool(result.rowcount)
