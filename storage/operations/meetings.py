"""Quarterly meetings and weekly catch-ups, and ambassadors' RSVPs.

Every meeting has one post in the office's engagements channel naming who replied (yes /
maybe / can't come, with the note "can't come" may carry); each reply, move or cancellation
rewrites it (`meeting:<id>:post`). Replies are kept as a history (MeetingRsvpChange); the
latest (MeetingRsvp) is the one that counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit, snapshot
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import (FollowUp, FollowUpStatus, Meeting, MeetingAttendance, MeetingKind,
                            MeetingRsvp, MeetingRsvpChange, Person, Role, utcnow)
from storage.operations.people import active_people_with_role
from storage.parsers import clean_text, format_date, format_when
from storage.permissions import Action, require
from storage.scheme import Scheme

RSVP_ANSWERS = ("yes", "no", "maybe")
ANSWER_WORDS = {"yes": "Coming", "maybe": "Maybe", "no": "Can't come"}
SCHEDULER = "scheduler"
RSVP_NOTE_CHARS = 500
WORDS_CHARS = 200  # a meeting's title and place


def post_ref(meeting_id: int) -> str:
    return f"meeting:{meeting_id}:post"


@dataclass(frozen=True)
class Reply:
    name: str
    answer: str
    note: str | None


async def replies(session: AsyncSession, meeting_id: int) -> list[Reply]:
    """Who answered, latest answer each, in the order yes, maybe, can't come, then by name."""
    rows = (await session.execute(
        select(Person.name, MeetingRsvp.answer, MeetingRsvp.note)
        .join(Person, Person.id == MeetingRsvp.person_id)
        .where(MeetingRsvp.meeting_id == meeting_id))).all()
    order = {"yes": 0, "maybe": 1, "no": 2}
    return sorted((Reply(*row) for row in rows), key=lambda r: (order.get(r.answer, 3), r.name))


def replies_line(found: list[Reply]) -> str:
    """"Coming: Ann Shaw, Raj Patel · Maybe: — · Can't come: Tom Fairbairn (“at a fete”)"."""
    parts = []
    for answer in ("yes", "maybe", "no"):
        names = [r.name + (f" (“{r.note}”)" if r.note else "") for r in found
                 if r.answer == answer]
        parts.append(f"{ANSWER_WORDS[answer]}: {', '.join(names) or '—'}")
    return " · ".join(parts)


@dataclass(frozen=True)
class ActionRow:
    follow_up_id: int
    text: str
    owner: str
    due_at: dt.datetime
    done: bool


async def attended(session: AsyncSession, meeting_id: int) -> list[str]:
    """The names of who came, as the office recorded them."""
    return list((await session.scalars(
        select(Person.name).join(MeetingAttendance, MeetingAttendance.person_id == Person.id)
        .where(MeetingAttendance.meeting_id == meeting_id).order_by(Person.name))).all())


async def actions_of(session: AsyncSession, meeting_id: int) -> list[ActionRow]:
    """The meeting's actions (its follow-ups), done or not, in the order agreed."""
    rows = (await session.execute(
        select(FollowUp.id, FollowUp.detail, Person.name, FollowUp.due_at, FollowUp.status)
        .outerjoin(Person, Person.id == FollowUp.owner_id)
        .where(FollowUp.meeting_id == meeting_id).order_by(FollowUp.id))).all()
    return [ActionRow(i, text, owner or "—", due, status == FollowUpStatus.DONE.value)
            for i, text, owner, due, status in rows]


async def write_post(session: AsyncSession, scheme: Scheme, meeting: Meeting, *,
                     first: bool = False) -> None:
    """The office's post of a meeting: when, where, why it moved, who replied, and once
    recorded who came, the notes, decisions and actions; rewritten in place after the first
    time, always drawn whole from the records."""
    found = await replies(session, meeting.id)
    tz = scheme.timezone
    when = format_when(meeting.starts_at, tz)
    state = "Cancelled: " if meeting.cancelled_at is not None else ""
    text = (f"{state}{meeting.title} — {when} at {meeting.place}."
            + (f" {meeting.date_note}" if meeting.date_note else "")
            + f" Replies: {replies_line(found)}")
    data = {"meeting_id": meeting.id, "title": meeting.title, "when": when,
            "place": meeting.place, "date_note": meeting.date_note,
            "cancelled": meeting.cancelled_at is not None,
            "past": False, "notes_recorded": meeting.notes_at is not None,
            "replies": [{"name": r.name, "answer": r.answer, "note": r.note} for r in found]}
    if meeting.notes_at is not None:
        came = await attended(session, meeting.id)
        acts = await actions_of(session, meeting.id)
        text += f" Came: {', '.join(came) or '—'}. Notes recorded, {len(acts)} action(s)."
        data.update({
            "attended": came, "notes": meeting.notes, "decisions": meeting.decisions,
            "actions": [{"follow_up_id": a.follow_up_id, "text": a.text, "owner": a.owner,
                         "due": format_date(a.due_at.astimezone(scheme.tz).date()),
                         "done": a.done} for a in acts]})
    if first:
        outbox.to_channel(session, scheme, "engagements", "meeting_post", text, data=data,
                          ref=post_ref(meeting.id))
    else:
        outbox.to_channel(session, scheme, "engagements", "meeting_post", text, data=data,
                          replaces_ref=post_ref(meeting.id))


def _clean(value: str | None, what: str, field: str) -> str:
    value = " ".join(clean_text(value).split())
    if not value or len(value) > WORDS_CHARS:
        raise InvalidInput(what, field=field)
    return value


async def create_meeting(session: AsyncSession, scheme: Scheme, *, kind: str, title: str,
                         place: str, starts_at: dt.datetime, ends_at: dt.datetime,
                         actor: Person | None, now: dt.datetime,
                         series_key: str | None = None,
                         date_note: str | None = None) -> Meeting:
    """The meeting, its audit line, the invitations and the office's post (the office's
    Schedule button and the scheme's series both come here)."""
    try:
        kind_value = MeetingKind(kind)
    except ValueError:
        raise InvalidInput("Please choose a quarterly meeting or a catch-up.") from None
    title = _clean(title, f"Please give a title of up to {WORDS_CHARS} characters.", "title")
    place = _clean(place, f"Please say where it is (or 'online'), up to {WORDS_CHARS} "
                          f"characters.", "place")
    if starts_at <= now:
        raise InvalidInput("A meeting must be scheduled in the future: "
                           f"{format_when(starts_at, scheme.timezone)} has passed.",
                           field="starts_at")
    if ends_at <= starts_at:
        raise InvalidInput("The meeting must end after it starts.", field="ends_at")
    meeting = Meeting(kind=kind_value.value, title=title, place=place, starts_at=starts_at,
                      ends_at=ends_at, created_by_id=actor.id if actor else None,
                      created_at=now, series_key=series_key, date_note=date_note)
    session.add(meeting)
    await session.flush()
    audit(session, actor, "schedule_meeting", target=meeting,
          after=snapshot(meeting, "kind", "title", "starts_at", "series_key"),
          actor_label=None if actor else SCHEDULER)
    when = format_when(starts_at, scheme.timezone)
    moved = f" {date_note}" if date_note else ""
    for ambassador in await active_people_with_role(session, Role.AMBASSADOR):
        outbox.to_person(session, ambassador, "meeting_invitation",
                         f"{title}: {when} at {place}.{moved} Will you come?",
                         data={"meeting_id": meeting.id, "rsvp": list(RSVP_ANSWERS)})
    await write_post(session, scheme, meeting, first=True)
    return meeting


async def do_schedule_meeting(session: AsyncSession, scheme: Scheme, *, kind: str, title: str,
                              place: str, starts_at: dt.datetime, ends_at: dt.datetime,
                              actor: Person, now: dt.datetime | None = None) -> Meeting:
    require(actor, Action.MANAGE_MEETINGS, target_type="meetings")
    return await create_meeting(session, scheme, kind=kind, title=title, place=place,
                                starts_at=starts_at, ends_at=ends_at, actor=actor,
                                now=now or utcnow())


async def _open_meeting(session: AsyncSession, meeting_id: int) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("That meeting no longer exists.")
    if meeting.cancelled_at is not None:
        raise Conflict("That meeting was cancelled.")
    return meeting


async def do_move_meeting(session: AsyncSession, scheme: Scheme, *, meeting_id: int,
                          starts_at: dt.datetime, actor: Person,
                          now: dt.datetime | None = None) -> Meeting:
    """A new time for a meeting; everyone invited (who has not said they can't come) is told,
    and the reminders start again for the new date."""
    require(actor, Action.MANAGE_MEETINGS, target_type="meetings", target_id=meeting_id)
    now = now or utcnow()
    meeting = await _open_meeting(session, meeting_id)
    if meeting.starts_at <= now:
        raise Conflict("That meeting has already started, so it cannot be moved.")
    if starts_at <= now:
        raise InvalidInput("A meeting can only be moved to a time in the future: "
                           f"{format_when(starts_at, scheme.timezone)} has passed.",
                           field="starts_at")
    if starts_at == meeting.starts_at:
        raise InvalidInput("That is the time it is already at.", field="starts_at")
    before = {"starts_at": meeting.starts_at}
    was = format_when(meeting.starts_at, scheme.timezone)
    meeting.ends_at = starts_at + (meeting.ends_at - meeting.starts_at)
    meeting.starts_at = starts_at
    meeting.date_note = f"Moved from {was}."
    meeting.reminded_week_at = meeting.reminded_day_at = None
    await session.flush()
    audit(session, actor, "move_meeting", target=meeting, before=before,
          after={"starts_at": starts_at})
    when = format_when(starts_at, scheme.timezone)
    answers = {r.person_id: r.answer for r in meeting.rsvps}
    for ambassador in await active_people_with_role(session, Role.AMBASSADOR):
        outbox.to_person(session, ambassador, "meeting_invitation",
                         f"Moved: {meeting.title} is now {when} at {meeting.place} (it was "
                         f"{was}). Will you come?",
                         data={"meeting_id": meeting.id, "rsvp": list(RSVP_ANSWERS),
                               "answer": answers.get(ambassador.id)})
    await write_post(session, scheme, meeting)
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
    await write_post(session, scheme, meeting)
    return meeting


async def do_rsvp(session: AsyncSession, scheme: Scheme, *, meeting_id: int, answer: str,
                  actor: Person, now: dt.datetime | None = None,
                  note: str | None = None) -> MeetingRsvp:
    """Record (or change) an ambassador's reply to a meeting invitation ("can't come" may
    carry a note), and rewrite the office's post with the names."""
    require(actor, Action.RSVP, target_type="meetings", target_id=meeting_id)
    now = now or utcnow()
    if answer not in RSVP_ANSWERS:
        raise InvalidInput("Please answer yes, no or maybe.")
    note = " ".join((note or "").split()) or None
    if note is not None and answer != "no":
        raise InvalidInput("A note goes with “can't come”.")
    if note is not None and len(note) > RSVP_NOTE_CHARS:
        raise InvalidInput(f"Please keep the note to {RSVP_NOTE_CHARS} characters "
                           f"(that one has {len(note)}).")
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("That meeting no longer exists.")
    if meeting.cancelled_at is not None:
        raise Conflict("That meeting was cancelled, so there is nothing to reply to.")
    if meeting.starts_at <= now:
        raise Conflict("That meeting has already started.")
    rsvp = await session.scalar(select(MeetingRsvp).where(MeetingRsvp.meeting_id == meeting_id,
                                                          MeetingRsvp.person_id == actor.id))
    before = {"answer": rsvp.answer, "note": rsvp.note} if rsvp else None
    if rsvp is None:
        rsvp = MeetingRsvp(meeting_id=meeting_id, person_id=actor.id, answer=answer,
                           answered_at=now, note=note)
        session.add(rsvp)
    else:
        rsvp.answer, rsvp.answered_at, rsvp.note = answer, now, note
    session.add(MeetingRsvpChange(meeting_id=meeting_id, person_id=actor.id, answer=answer,
                                  note=note, answered_at=now))
    await session.flush()
    audit(session, actor, "rsvp", target=meeting, before=before,
          after={"answer": answer} if note is None else {"answer": answer, "note": note})
    await write_post(session, scheme, meeting)
    return rsvp


async def coming_up_with_replies(session: AsyncSession, now: dt.datetime,
                                 limit: int = 5) -> list[tuple[Meeting, list[Reply]]]:
    """The next meetings not cancelled, each with who replied by name (the office's App
    Home)."""
    coming = (await session.scalars(
        select(Meeting).where(Meeting.cancelled_at.is_(None), Meeting.starts_at >= now)
        .order_by(Meeting.starts_at, Meeting.id).limit(limit))).all()
    return [(meeting, await replies(session, meeting.id)) for meeting in coming]


# How long after "can't come" a plain message (not a reply to anything) is taken for its note.
NOTE_WINDOW = dt.timedelta(minutes=15)


async def do_note_cant_come(session: AsyncSession, scheme: Scheme, *, note: str,
                            actor: Person, replying: bool,
                            now: dt.datetime | None = None) -> MeetingRsvp | None:
    """The note an ambassador adds after "can't come" (the bot asks for it): kept with that
    reply, as a change of its own. None when there is no such reply waiting for a note — the
    text was something else, and nothing is changed."""
    now = now or utcnow()
    latest = await session.scalar(
        select(MeetingRsvpChange).where(MeetingRsvpChange.person_id == actor.id)
        .order_by(MeetingRsvpChange.answered_at.desc(), MeetingRsvpChange.id.desc()).limit(1))
    if latest is None or latest.answer != "no" or latest.note is not None:
        return None
    if not replying and latest.answered_at < now - NOTE_WINDOW:
        return None
    return await do_rsvp(session, scheme, meeting_id=latest.meeting_id, answer="no",
                         actor=actor, note=note, now=now)
