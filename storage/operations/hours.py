"""Hours an ambassador gives, counted once: time given with feedback is one entry linked to
its engagement (made when the feedback is filed, editable from /mine); /hours is for time
not tied to an engagement. The monthly summary, the digest and the statement all add up the
same entries. (Expenses are in storage/operations/expenses.py.)"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import audit, snapshot
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import Engagement, HoursEntry, Person, utcnow
from storage.permissions import Action, require

BACKDATE_DAYS = 92
DAY = 24 * 60


def _check_day(day: dt.date, today: dt.date, what: str) -> None:
    if day > today:
        raise InvalidInput(f"The {what} can't be in the future.", field="date")
    if day < today - dt.timedelta(days=BACKDATE_DAYS):
        raise InvalidInput(f"The {what} can be up to {BACKDATE_DAYS} days ago; please ask the "
                           "office about older ones.", field="date")


async def _check_minutes(session: AsyncSession, person_id: int, day: dt.date, minutes: int,
                         leave_out: int | None = None) -> None:
    if not 0 < minutes <= DAY:
        raise InvalidInput("Please give between 1 minute and 24 hours.", field="minutes")
    where = [HoursEntry.person_id == person_id, HoursEntry.worked_on == day]
    if leave_out is not None:
        where.append(HoursEntry.id != leave_out)
    already = await session.scalar(
        select(func.coalesce(func.sum(HoursEntry.minutes), 0)).where(*where))
    if already + minutes > DAY:
        raise InvalidInput(f"That would make more than 24 hours on {day:%d %B}; you have "
                           f"already logged {already // 60}h{already % 60:02d}m that day.",
                           field="minutes")


async def do_log_hours(session: AsyncSession, *, worked_on: dt.date, minutes: int,
                       description: str | None = None, engagement_id: int | None = None,
                       actor: Person, today: dt.date | None = None) -> HoursEntry:
    """Time given on a day; linked to an engagement only once (its feedback's time)."""
    require(actor, Action.OWN_RECORDS, target_type="hours_entries")
    today = today or utcnow().date()
    _check_day(worked_on, today, "day worked")
    if engagement_id is not None:
        engagement = await session.get(Engagement, engagement_id)
        if engagement is None or engagement.ambassador_id != actor.id:
            raise InvalidInput("Please pick one of your own engagements.", field="engagement")
        if await hours_for_engagement(session, engagement_id) is not None:
            raise Conflict("Time for that engagement is already logged; change it from /mine "
                           "rather than logging it twice.")
    await _check_minutes(session, actor.id, worked_on, minutes)
    entry = HoursEntry(person_id=actor.id, worked_on=worked_on, minutes=minutes,
                       description=(description or "").strip()[:1000] or None,
                       engagement_id=engagement_id)
    session.add(entry)
    await session.flush()
    audit(session, actor, "log_hours", target=entry,
          after=snapshot(entry, "worked_on", "minutes", "engagement_id"))
    return entry


async def record_engagement_hours(session: AsyncSession, engagement: Engagement, minutes: int,
                                  *, actor: Person, tz: str) -> HoursEntry:
    """The time given with feedback, as the engagement's one hours entry (on the day it
    started, in the scheme's zone). Called by do_file_feedback, inside its transaction."""
    day = engagement.starts_at.astimezone(ZoneInfo(tz)).date()
    await _check_minutes(session, actor.id, day, minutes)
    entry = HoursEntry(person_id=actor.id, worked_on=day, minutes=minutes,
                       description=engagement.title[:1000], engagement_id=engagement.id)
    session.add(entry)
    await session.flush()
    audit(session, actor, "log_hours", target=entry,
          after=snapshot(entry, "worked_on", "minutes", "engagement_id"))
    return entry


async def hours_for_engagement(session: AsyncSession, engagement_id: int) -> HoursEntry | None:
    return await session.scalar(select(HoursEntry).where(
        HoursEntry.engagement_id == engagement_id))


async def do_change_hours(session: AsyncSession, *, entry_id: int, minutes: int,
                          actor: Person) -> HoursEntry:
    """The ambassador corrects the time of one of their entries (from /mine)."""
    entry = await session.get(HoursEntry, entry_id)
    if entry is None:
        raise NotFound("That hours entry no longer exists.")
    require(actor, Action.OWN_RECORDS, target_type="hours_entries", target_id=entry_id,
            owner_id=entry.person_id)
    await _check_minutes(session, actor.id, entry.worked_on, minutes, leave_out=entry.id)
    before = snapshot(entry, "minutes")
    entry.minutes = minutes
    await session.flush()
    audit(session, actor, "change_hours", target=entry, before=before,
          after=snapshot(entry, "minutes"))
    return entry


async def recent_hours(session: AsyncSession, actor: Person, *, limit: int = 5
                       ) -> list[HoursEntry]:
    require(actor, Action.OWN_RECORDS, target_type="hours_entries")
    return list((await session.scalars(
        select(HoursEntry).where(HoursEntry.person_id == actor.id)
        .order_by(HoursEntry.worked_on.desc(), HoursEntry.id.desc()).limit(limit))).all())


async def minutes_in_month(session: AsyncSession, person_id: int, year: int, month: int) -> int:
    first = dt.date(year, month, 1)
    after = dt.date(year + month // 12, month % 12 + 1, 1)
    return await minutes_between(session, person_id, first, after)


async def minutes_between(session: AsyncSession, person_id: int, first: dt.date,
                          after: dt.date) -> int:
    return int(await session.scalar(select(func.coalesce(func.sum(HoursEntry.minutes), 0))
                                    .where(HoursEntry.person_id == person_id,
                                           HoursEntry.worked_on >= first,
                                           HoursEntry.worked_on < after)))
