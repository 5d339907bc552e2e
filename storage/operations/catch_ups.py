"""Weekly catch-ups kept (issue 19): each answer is a record — who, which ISO week, what they
said, whether it raises something for the office — and an answer that asks for something is
made a follow-up from its Slack post in one press (once: a second press is told it already
is one). The digest's Catch-ups section and the deputy's oversight read these rows.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit, snapshot
from storage.errors import Conflict, NotFound
from storage.models import (Area, CatchUp, FollowUp, FollowUpNeeded, FollowUpStatus, Person,
                            Role, Urgency, utcnow)
from storage.operations.alerts import alert_ref
from storage.parsers import format_when
from storage.permissions import Action, require
from storage.scheme import Scheme

ANSWER_EVENT = "catch_up_answer"
MADE_EVENT = "catch_up_follow_up"
# Replies that say there is nothing to raise: kept as an answer, not listed as raised.
NOTHING = re.compile(r"(no|nope|none|nothing|all (good|fine|quiet|ok)|quiet( week)?|n/?a|-+|"
                     r"ok|fine)(,? (new|much|to report|to add|this week|from me|here|thanks|"
                     r"thank you))*[.! ]*", re.IGNORECASE)


def asked_mark(week: str, person_id: int) -> str:
    """The ScheduleMark saying this week's question went to this person."""
    return f"catch_up:{week}:{person_id}"


def post_ref(catch_up_id: int) -> str:
    return f"catch_up:{catch_up_id}:post"


def raises_something(answer: str) -> bool:
    return not NOTHING.fullmatch(answer.strip())


async def _area(session: AsyncSession, person: Person) -> str:
    area = await session.get(Area, person.area_id) if person.area_id is not None else None
    return area.name if area else ""


def post_data(catch_up: CatchUp, person: Person, area: str) -> dict[str, object]:
    return {"catch_up_id": catch_up.id, "person_id": person.id, "ambassador": person.name,
            "area": area, "week": catch_up.week, "answer": catch_up.answer,
            "raised": catch_up.raised, "follow_up_id": catch_up.follow_up_id}


async def keep_answer(session: AsyncSession, scheme: Scheme, person: Person, *, week: str,
                      answer: str, now: dt.datetime) -> CatchUp:
    """Record an answer (already checked) and post it to the office with its button."""
    catch_up = CatchUp(person_id=person.id, week=week, answer=answer,
                       raised=raises_something(answer), answered_at=now)
    session.add(catch_up)
    await session.flush()
    area = await _area(session, person)
    outbox.to_channel(
        session, scheme, "engagements", ANSWER_EVENT,
        f"Catch-up from {person.name}{f' ({area})' if area else ''}, week {week}: {answer}",
        data=post_data(catch_up, person, area), ref=post_ref(catch_up.id))
    return catch_up


async def do_make_follow_up(session: AsyncSession, scheme: Scheme, *, catch_up_id: int,
                            actor: Person, now: dt.datetime | None = None) -> FollowUp:
    """Turn a catch-up answer into a follow-up for the office, owned by whoever pressed the
    button, due in the scheme's follow_up_due_days. Once: a second press (a stale post, two
    officers at once) is refused with a sentence naming the follow-up it already is."""
    require(actor, Action.HANDLE_FOLLOW_UP, target_type="catch_ups", target_id=catch_up_id)
    now = now or utcnow()
    catch_up = await session.get(CatchUp, catch_up_id)
    if catch_up is None:
        raise NotFound("That catch-up answer no longer exists.")
    if catch_up.follow_up_id is not None:
        raise Conflict(f"That catch-up is already follow-up #{catch_up.follow_up_id}.")
    person = await session.get(Person, catch_up.person_id)
    name = person.name if person else "an ambassador"
    follow_up = FollowUp(
        needed_by=FollowUpNeeded.OFFICE.value, urgency=Urgency.ROUTINE.value,
        detail=f"From {name}'s catch-up, week {catch_up.week}: {catch_up.answer}",
        owner_id=actor.id, status=FollowUpStatus.OPEN.value, created_at=now,
        due_at=now + dt.timedelta(days=scheme.limits.follow_up_due_days))
    session.add(follow_up)
    await session.flush()
    # Conditional, so two presses at once make one follow-up: the loser rolls back.
    taken = await session.execute(
        update(CatchUp).where(CatchUp.id == catch_up_id, CatchUp.follow_up_id.is_(None))
        .values(follow_up_id=follow_up.id).execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        await session.refresh(catch_up)
        raise Conflict(f"That catch-up is already follow-up #{catch_up.follow_up_id}.")
    await session.refresh(catch_up)
    audit(session, actor, "make_follow_up_from_catch_up", target=follow_up,
          after={**snapshot(follow_up, "needed_by", "urgency", "due_at", "owner_id"),
                 "catch_up_id": catch_up.id})
    tz = scheme.timezone
    line = (f"Follow-up #{follow_up.id}, made by {actor.name} at {format_when(now, tz)}; "
            f"due {format_when(follow_up.due_at, tz)}")
    data = (post_data(catch_up, person, await _area(session, person)) if person
            else {"catch_up_id": catch_up.id})
    # The answer's post becomes the follow-up's card: its ref is the follow-up's alert ref,
    # so Acknowledge, Assign and Done rewrite this post, as they do an urgent item's alert.
    outbox.to_channel(session, scheme, "engagements", MADE_EVENT,
                      f"Catch-up from {name}, week {catch_up.week} — {line}",
                      data={**data, "line": line, "status": follow_up.status},
                      replaces_ref=post_ref(catch_up.id), ref=alert_ref(follow_up.id))
    return follow_up


# ---- reading: the digest and the deputy's oversight ---------------------------------------


@dataclass
class WeekOfCatchUps:
    week: str
    answered: list[str] = field(default_factory=list)            # names, in order
    missed_twice: list[str] = field(default_factory=list)        # not this week nor last
    raised: list[tuple[str, str, int | None]] = field(default_factory=list)  # name, text, f-u


def iso_week_of(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


async def week_of_catch_ups(session: AsyncSession, monday: dt.date, *,
                            active_since: dt.datetime | None = None) -> WeekOfCatchUps:
    """Who answered the catch-up of the week starting `monday`, which ambassadors answered
    neither it nor the week before (joined before that week began), and what was raised."""
    week, before = iso_week_of(monday), iso_week_of(monday - dt.timedelta(days=7))
    people = (await session.scalars(
        select(Person).where(Person.active.is_(True)).order_by(Person.name))).all()
    ambassadors = [p for p in people if Role.AMBASSADOR.value in (p.roles or [])]
    rows = (await session.execute(
        select(CatchUp.person_id, CatchUp.week, CatchUp.answer, CatchUp.raised,
               CatchUp.follow_up_id)
        .where(CatchUp.week.in_([week, before])).order_by(CatchUp.answered_at,
                                                          CatchUp.id))).all()
    names = {p.id: p.name for p in people}
    answered_by = {(row.person_id, row.week) for row in rows}
    result = WeekOfCatchUps(week)
    result.answered = [p.name for p in ambassadors if (p.id, week) in answered_by]
    start_of_before = active_since
    for p in ambassadors:
        new = start_of_before is not None and p.created_at is not None and \
            _aware(p.created_at) > start_of_before
        if not new and (p.id, week) not in answered_by and (p.id, before) not in answered_by:
            result.missed_twice.append(p.name)
    result.raised = [(names.get(row.person_id, "someone"), row.answer, row.follow_up_id)
                     for row in rows if row.week == week and row.raised]
    return result


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


async def answered_weeks(session: AsyncSession, person_ids: list[int],
                         week: str) -> set[int]:
    """Which of these people answered the catch-up of `week`."""
    if not person_ids:
        return set()
    return set((await session.scalars(
        select(CatchUp.person_id).where(CatchUp.week == week,
                                        CatchUp.person_id.in_(person_ids))
        .group_by(CatchUp.person_id))).all())
