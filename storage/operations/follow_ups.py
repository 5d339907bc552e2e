"""Follow-ups from feedback: acknowledge, assign, done (DESIGN §8: officer, Commissioner,
deputy). Each change rewrites the alert in place so nobody acts on a stale message, and the
rewrite keeps everything the alert said (storage/operations/alerts.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, func, literal, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import Engagement, FollowUp, FollowUpStatus, Meeting, Person, utcnow
from storage.operations.alerts import ALERT_STEP, queue_alert_step
from storage.operations.meetings import write_post
from storage.operations.people import OFFICE_ROLES
from storage.parsers import format_when
from storage.permissions import Action, require
from storage.scheme import Scheme


def follow_up_title() -> ColumnElement[str]:
    """What a follow-up is about, for lists: its engagement's title, else its meeting's (an
    action agreed there), else "Follow-up" (a catch-up's). Not every follow-up has an
    engagement, so a query using this outer-joins Engagement and Meeting, never joins."""
    return func.coalesce(Engagement.title, Meeting.title, literal("Follow-up"))


async def _load(session: AsyncSession, follow_up_id: int, actor: Person) -> FollowUp:
    require(actor, Action.HANDLE_FOLLOW_UP, target_type="follow_ups", target_id=follow_up_id)
    follow_up = await session.get(FollowUp, follow_up_id)
    if follow_up is None:
        raise NotFound("That follow-up no longer exists.")
    return follow_up


async def _move(session: AsyncSession, scheme: Scheme, follow_up: FollowUp, actor: Person,
                action: str, allowed_from: tuple[FollowUpStatus, ...], values: dict[str, object],
                line: str) -> FollowUp:
    """Change status only if nobody else moved it first (a conditional UPDATE)."""
    before = {"status": follow_up.status, "owner_id": follow_up.owner_id}
    result = await session.execute(
        update(FollowUp).where(FollowUp.id == follow_up.id,
                               FollowUp.status.in_([s.value for s in allowed_from]))
        .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        await session.refresh(follow_up)
        raise Conflict(f"That follow-up is already {follow_up.status}.")
    await session.refresh(follow_up)
    # The line is kept with the audit row: the alert lists every step from these rows.
    audit(session, actor, action, target=follow_up, before=before,
          after={"status": follow_up.status, "owner_id": follow_up.owner_id,
                 ALERT_STEP: line})
    if follow_up.meeting_id is not None:
        # A meeting's action has no alert of its own: its meeting's post lists it.
        meeting = await session.get(Meeting, follow_up.meeting_id)
        if meeting is not None:
            await write_post(session, scheme, meeting)
        return follow_up
    # The rewrite carries the whole alert plus this step, never the step alone.
    await queue_alert_step(session, scheme, follow_up, line, by=actor.name,
                           at=utcnow().isoformat())
    return follow_up


async def do_acknowledge_follow_up(session: AsyncSession, scheme: Scheme, *, follow_up_id: int,
                                   actor: Person, now: dt.datetime | None = None) -> FollowUp:
    now = now or utcnow()
    follow_up = await _load(session, follow_up_id, actor)
    return await _move(session, scheme, follow_up, actor, "acknowledge_follow_up",
                       (FollowUpStatus.OPEN,),
                       {"status": FollowUpStatus.ACKNOWLEDGED.value, "acknowledged_by_id":
                        actor.id, "acknowledged_at": now,
                        "owner_id": follow_up.owner_id or actor.id},
                       f"acknowledged by {actor.name} at {format_when(now, scheme.timezone)}")


async def do_assign_follow_up(session: AsyncSession, scheme: Scheme, *, follow_up_id: int,
                              owner_id: int, actor: Person,
                              now: dt.datetime | None = None) -> FollowUp:
    now = now or utcnow()
    follow_up = await _load(session, follow_up_id, actor)
    owner = await session.get(Person, owner_id)
    if owner is None or not owner.active or not owner.has_role(*OFFICE_ROLES):
        raise InvalidInput("Follow-ups can only be assigned to an active member of the office.")
    moved = await _move(session, scheme, follow_up, actor, "assign_follow_up",
                        (FollowUpStatus.OPEN, FollowUpStatus.ACKNOWLEDGED),
                        {"status": FollowUpStatus.ACKNOWLEDGED.value, "owner_id": owner.id,
                         "acknowledged_by_id": follow_up.acknowledged_by_id or actor.id,
                         "acknowledged_at": follow_up.acknowledged_at or now},
                        f"assigned to {owner.name} by {actor.name} at "
                        f"{format_when(now, scheme.timezone)}")
    if owner.id != actor.id:
        outbox.to_person(session, owner, "follow_up_assigned",
                         f"{actor.name} assigned you a follow-up: {follow_up.detail}",
                         data={"follow_up_id": follow_up.id})
    return moved


async def do_complete_follow_up(session: AsyncSession, scheme: Scheme, *, follow_up_id: int,
                                actor: Person, note: str | None = None,
                                now: dt.datetime | None = None) -> FollowUp:
    now = now or utcnow()
    follow_up = await _load(session, follow_up_id, actor)
    return await _move(session, scheme, follow_up, actor, "complete_follow_up",
                       (FollowUpStatus.OPEN, FollowUpStatus.ACKNOWLEDGED),
                       {"status": FollowUpStatus.DONE.value, "done_by_id": actor.id,
                        "done_at": now, "owner_id": follow_up.owner_id or actor.id},
                       f"done, by {actor.name} at {format_when(now, scheme.timezone)}"
                       + (f": {note.strip()[:500]}" if note and note.strip() else ""))
