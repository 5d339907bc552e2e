"""After a meeting: who came, the notes, the decisions and the actions agreed, recorded once by
the office. Each action is a follow-up of the meeting (FollowUp.meeting_id) with an owner who
is a person of the scheme and a due date, so it is closed, listed overdue and counted like any
other follow-up. Owners are told their actions; every ambassador (all were invited) gets the
notes; the office's post of the meeting is rewritten to show them.

Everything is checked before anything is written: one bad row refuses the whole record with a
sentence, and the meeting stays as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import (FollowUp, FollowUpNeeded, FollowUpStatus, Meeting,
                            MeetingAttendance, Person, Role, Urgency, utcnow)
from storage.operations.meetings import actions_of, attended, write_post
from storage.operations.people import active_people_with_role
from storage.parsers import clean_text, format_date, format_when
from storage.permissions import Action, require
from storage.scheme import Scheme

MAX_ACTIONS = 10
ACTION_CHARS = 500
# An action is due by the end of its day in the scheme's zone, so "due today" is not overdue
# the moment it is recorded.
DUE_TIME = dt.time(23, 59)


@dataclass(frozen=True)
class ActionItem:
    """One row of the modal: what is to be done, by whom (a person id), by when."""
    text: str
    owner_id: int | None
    due_on: dt.date | None


@dataclass(frozen=True)
class OpenAction:
    follow_up_id: int
    meeting_title: str
    text: str
    due_at: dt.datetime


def _tidy(text: str | None) -> str:
    # Keep the office's line breaks (notes are paragraphs); trim the ends only.
    return "\n".join(line.rstrip() for line in clean_text(text).splitlines())


def _within(text: str, limit: int, what: str, field: str) -> str:
    if len(text) > limit:
        raise InvalidInput(f"Please keep the {what} to {limit:,} characters (they have "
                           f"{len(text):,}).", field=field)
    return text


async def _person_of_scheme(session: AsyncSession, person_id: int | None) -> Person | None:
    if person_id is None:
        return None
    person = await session.get(Person, person_id)
    if person is None or not person.active or person.erased_at is not None:
        return None
    return person


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "…"


async def _checked_actions(session: AsyncSession, scheme: Scheme, items: Sequence[ActionItem],
                           today: dt.date) -> list[tuple[str, Person, dt.date]]:
    checked = []
    for number, item in enumerate(items, start=1):
        text = " ".join(clean_text(item.text).split())
        if not text and item.owner_id is None and item.due_on is None:
            continue                                  # an empty row of the modal
        field = f"action_{number}"
        if not text:
            raise InvalidInput(f"Action {number} has an owner or a date but no words: please "
                               "say what is to be done, or clear the row.", field=field)
        _within(text, ACTION_CHARS, f"words of action {number}", field)
        if item.owner_id is None:
            raise InvalidInput(f"The action “{_short(text)}” has no owner: please choose who "
                               "will do it.", field=f"owner_{number}")
        owner = await _person_of_scheme(session, item.owner_id)
        if owner is None:
            raise InvalidInput(f"The owner chosen for “{_short(text)}” isn't an active person "
                               "of the scheme.", field=f"owner_{number}")
        due_on = item.due_on or today + dt.timedelta(days=scheme.limits.follow_up_due_days)
        if due_on < today:
            raise InvalidInput(f"The action “{_short(text)}” is due on {format_date(due_on)}, "
                               "which has passed: please choose today or a later date.",
                               field=f"due_{number}")
        checked.append((text, owner, due_on))
    if len(checked) > MAX_ACTIONS:
        raise InvalidInput(f"Please record at most {MAX_ACTIONS} actions at once.")
    return checked


async def do_record_meeting_notes(session: AsyncSession, scheme: Scheme, *, meeting_id: int,
                                  attended_ids: Sequence[int], notes: str,
                                  decisions: str | None = None,
                                  actions: Sequence[ActionItem] = (), actor: Person,
                                  now: dt.datetime | None = None) -> list[FollowUp]:
    """Record who came, the notes, decisions and actions of a meeting that has happened; the
    actions become follow-ups. Returns them, in the order given."""
    require(actor, Action.MANAGE_MEETINGS, target_type="meetings", target_id=meeting_id)
    now = now or utcnow()
    limit = scheme.limits.max_text_chars
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("That meeting no longer exists.")
    if meeting.cancelled_at is not None:
        raise Conflict("That meeting was cancelled, so it has no notes to record.")
    if meeting.starts_at > now:
        raise Conflict("That meeting hasn't happened yet (it is on "
                       f"{format_when(meeting.starts_at, scheme.timezone)}); notes can be "
                       "recorded once it has started.")
    if meeting.notes_at is not None:
        raise Conflict("The notes of that meeting were recorded already, on "
                       f"{format_when(meeting.notes_at, scheme.timezone)}.")
    notes = _within(_tidy(notes), limit, "notes", "notes")
    if not notes:
        raise InvalidInput("Please write the notes of the meeting.", field="notes")
    decisions = _within(_tidy(decisions), limit, "decisions", "decisions") or None
    came: list[Person] = []
    for person_id in dict.fromkeys(attended_ids):
        person = await _person_of_scheme(session, person_id)
        if person is None:
            raise InvalidInput("Someone chosen under “Who came” isn't an active person of "
                               "the scheme, so attendance can't be recorded for them.",
                               field="attended")
        came.append(person)
    today = now.astimezone(scheme.tz).date()
    checked = await _checked_actions(session, scheme, actions, today)

    meeting.notes, meeting.decisions = notes, decisions
    meeting.notes_by_id, meeting.notes_at = actor.id, now
    session.add_all(MeetingAttendance(meeting_id=meeting.id, person_id=p.id) for p in came)
    made = [FollowUp(meeting_id=meeting.id, needed_by=FollowUpNeeded.OFFICE.value,
                     urgency=Urgency.ROUTINE.value, detail=text, owner_id=owner.id,
                     status=FollowUpStatus.OPEN.value, created_at=now,
                     due_at=dt.datetime.combine(due_on, DUE_TIME, tzinfo=scheme.tz)
                     .astimezone(dt.timezone.utc))
            for text, owner, due_on in checked]
    session.add_all(made)
    await session.flush()
    audit(session, actor, "record_meeting_notes", target=meeting,
          after={"attended": [p.id for p in came], "follow_up_ids": [f.id for f in made],
                 "decisions": decisions is not None})
    _tell_owners(session, scheme, meeting, list(zip(made, (o for _, o, _ in checked))))
    await send_notes(session, scheme, meeting)
    await write_post(session, scheme, meeting)
    return made


def _tell_owners(session: AsyncSession, scheme: Scheme, meeting: Meeting,
                 made: list[tuple[FollowUp, Person]]) -> None:
    """Each owner their own actions, in one message."""
    when = format_when(meeting.starts_at, scheme.timezone)
    owners: dict[int, tuple[Person, list[FollowUp]]] = {}
    for follow_up, owner in made:
        owners.setdefault(owner.id, (owner, []))[1].append(follow_up)
    for owner, theirs in owners.values():
        lines = [f"• {f.detail} — due {format_date(f.due_at.astimezone(scheme.tz).date())}"
                 for f in theirs]
        outbox.to_person(session, owner, "meeting_actions",
                         f"Your action{'s' if len(theirs) > 1 else ''} from {meeting.title} "
                         f"({when}):\n" + "\n".join(lines)
                         + "\n/mine lists what is still open.",
                         data={"meeting_id": meeting.id,
                               "follow_up_ids": [f.id for f in theirs]})


async def notes_text(session: AsyncSession, scheme: Scheme, meeting: Meeting) -> str:
    """The notes as an ambassador reads them on their phone."""
    came = await attended(session, meeting.id)
    acts = await actions_of(session, meeting.id)
    parts = [f"Notes of {meeting.title} ({format_when(meeting.starts_at, scheme.timezone)})",
             f"Came: {', '.join(came) or 'nobody recorded'}", "", meeting.notes or ""]
    if meeting.decisions:
        parts += ["", "Decided:", meeting.decisions]
    if acts:
        parts += ["", "Actions:"] + [
            f"• {a.text} — {a.owner}, due {format_date(a.due_at.astimezone(scheme.tz).date())}"
            for a in acts]
    return "\n".join(parts)


async def send_notes(session: AsyncSession, scheme: Scheme, meeting: Meeting) -> None:
    """The notes to every ambassador: all of them were invited."""
    text = await notes_text(session, scheme, meeting)
    for ambassador in await active_people_with_role(session, Role.AMBASSADOR):
        outbox.to_person(session, ambassador, "meeting_notes", text,
                         data={"meeting_id": meeting.id})


async def open_actions(session: AsyncSession, person_id: int) -> list[OpenAction]:
    """A person's actions from meetings not yet done, soonest due first (/mine)."""
    rows = (await session.execute(
        select(FollowUp.id, Meeting.title, FollowUp.detail, FollowUp.due_at)
        .join(Meeting, Meeting.id == FollowUp.meeting_id)
        .where(FollowUp.owner_id == person_id,
               FollowUp.status != FollowUpStatus.DONE.value)
        .order_by(FollowUp.due_at, FollowUp.id))).all()
    return [OpenAction(*row) for row in rows]


async def people_of_scheme(session: AsyncSession) -> list[tuple[int, str]]:
    """Everyone who can come to a meeting or own an action: the active people, by name."""
    return [(i, name) for i, name in (await session.execute(
        select(Person.id, Person.name).where(Person.active.is_(True), Person.erased_at.is_(None))
        .order_by(Person.name, Person.id))).all()]


async def meeting_heading(session: AsyncSession, scheme: Scheme,
                          meeting_id: int | None) -> dict[str, object]:
    """A meeting's id, title and when (in the scheme's zone), for a modal's first line."""
    meeting = await session.get(Meeting, meeting_id) if meeting_id is not None else None
    if meeting is None:
        raise NotFound("That meeting no longer exists.")
    return {"id": meeting.id, "title": meeting.title,
            "when": format_when(meeting.starts_at, scheme.timezone)}
