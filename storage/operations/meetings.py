"""Quarterly meetings and weekly catch-ups, and ambassadors' RSVPs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit, snapshot
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import Meeting, MeetingKind, MeetingRsvp, Person, Role, utcnow
from storage.operations.people import active_people_with_role
from storage.parsers import format_when
from storage.permissions import Action, require
from storage.scheme import Scheme

RSVP_ANSWERS = ("yes", "no", "maybe")


async def do_schedule_meeting(session: AsyncSession, scheme: Scheme, *, kind: str, title: str,
                              place: str, starts_at: dt.datetime, ends_at: dt.datetime,
                              actor: Person, now: dt.datetime | None = None) -> Meeting:
    require(actor, Action.MANAGE_MEETINGS, target_type="meetings")
    now = now or utcnow()
    try:
        kind_value = MeetingKind(kind)
    except ValueError:
        raise InvalidInput("Please choose a quarterly meeting or a catch-up.") from None
    title = " ".join((title or "").split())
    place = " ".join((place or "").split())
    if not title or len(title) > 200:
        raise InvalidInput("Please give a title of up to 200 characters.", field="title")
    if not place or len(place) > 200:
        raise InvalidInput("Please say where it is (or 'online'), up to 200 characters.",
                           field="place")
    if starts_at <= now:
        raise InvalidInput("A meeting must be scheduled in the future.", field="starts_at")
    if ends_at <= starts_at:
        raise InvalidInput("The meeting must end after it starts.", field="ends_at")
    meeting = Meeting(kind=kind_value.value, title=title, place=place, starts_at=starts_at,
                      ends_at=ends_at, created_by_id=actor.id, created_at=now)
    session.add(meeting)
    await session.flush()
    audit(session, actor, "schedule_meeting", target=meeting,
          after=snapshot(meeting, "kind", "title", "starts_at"))
    when = format_when(starts_at, scheme.timezone)
    for ambassador in await active_people_with_role(session, Role.AMBASSADOR):
        outbox.to_person(session, ambassador, "meeting_invitation",
                         f"{title}: {when} at {place}. Will you come?",
                         data={"meeting_id": meeting.id, "rsvp": list(RSVP_ANSWERS)})
    return meeting


async def do_cancel_meeting(session: AsyncSession, scheme: Scheme, *, meeting_id: int,
                            actor: Person) -> Meeting:
    require(actor, Action.MANAGE_MEETINGS, target_type="meetings", target_id=meeting_id)
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("That meeting no longer exists.")
    if meeting.cancelled_at is not None:
        raise Conflict("That meeting is already cancelled.")
    meeting.cancelled_at = utcnow()
    audit(session, actor, "cancel_meeting", target=meeting)
    for ambassador in await active_people_with_role(session, Role.AMBASSADOR):
        outbox.to_person(session, ambassador, "meeting_cancelled",
                         f"Cancelled: {meeting.title} "
                         f"({format_when(meeting.starts_at, scheme.timezone)}).",
                         data={"meeting_id": meeting.id})
    return meeting


async def do_rsvp(session: AsyncSession, *, meeting_id: int, answer: str, actor: Person,
                  now: dt.datetime | None = None) -> MeetingRsvp:
    """Record (or change) an ambassador's reply to a meeting invitation."""
    require(actor, Action.RSVP, target_type="meetings", target_id=meeting_id)
    now = now or utcnow()
    if answer not in RSVP_ANSWERS:
        raise InvalidInput("Please answer yes, no or maybe.")
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("That meeting no longer exists.")
    if meeting.cancelled_at is not None:
        raise Conflict("That meeting was cancelled, so there is nothing to reply to.")
    if meeting.starts_at <= now:
        raise Conflict("That meeting has already started.")
    rsvp = await session.scalar(select(MeetingRsvp).where(MeetingRsvp.meeting_id == meeting_id,
                                                          MeetingRsvp.person_id == actor.id))
    before = {"answer": rsvp.answer} if rsvp else None
    if rsvp is None:
        rsvp = MeetingRsvp(meeting_id=meeting_id, person_id=actor.id, answer=answer,
                           answered_at=now)
        session.add(rsvp)
    else:
        rsvp.answer, rsvp.answered_at = answer, now
    await session.flush()
    audit(session, actor, "rsvp", target=meeting, before=before, after={"answer": answer})
    return rsvp
