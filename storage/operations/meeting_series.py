"""The quarterly meetings the scheme's pattern puts in the diary (storage/scheme_meetings.py).

Dates are worked out in the scheme's zone (10:00 is 10:00 on the office's clock, GMT or BST)
and stored as UTC. A date on a bank holiday, or at a weekend, moves to the next working day and
the invitation says so. `do_plan_meetings` runs with the hourly schedule: each occurrence is
created once (its `series_key` is unique), and its invitations are written in the same
transaction, so a scheduler catching up after downtime invites nobody twice.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Meeting, MeetingKind, utcnow
from storage.office_calendar import is_bank_holiday
from storage.parsers import format_date
from storage.scheme import Scheme
from storage.scheme_meetings import WEEKDAY_NAMES, MeetingSeries


@dataclass(frozen=True)
class Occurrence:
    key: str                      # "quarterly:2027-04": which of the pattern's meetings
    starts_at: dt.datetime        # aware UTC
    ends_at: dt.datetime
    pattern_day: dt.date          # the day the pattern names, before any move
    date_note: str | None         # why it moved, in words, or None


def pattern_day(series: MeetingSeries, year: int, month: int) -> dt.date:
    """The day of `month` the pattern names (the scheme has already refused impossible ones)."""
    if series.day is not None:
        return dt.date(year, month, series.day)
    weekday = WEEKDAY_NAMES.index(series.weekday or "mon")
    days = [week[weekday] for week in calendar.monthcalendar(year, month) if week[weekday]]
    return dt.date(year, month, days[-1] if series.week == "last" else days[int(series.week) - 1])


def _working_day(scheme: Scheme, day: dt.date) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(scheme, day)


def occurrence(scheme: Scheme, series: MeetingSeries, year: int, month: int) -> Occurrence:
    named = pattern_day(series, year, month)
    day = named
    while not _working_day(scheme, day):
        day += dt.timedelta(days=1)
    note = None
    if day != named:
        why = "a bank holiday" if is_bank_holiday(scheme, named) else "not a working day"
        note = f"Moved from {format_date(named)} ({why}) to the next working day."
    starts = dt.datetime.combine(day, series.time, tzinfo=scheme.tz).astimezone(dt.UTC)
    return Occurrence(f"quarterly:{year:04d}-{month:02d}", starts,
                      starts + dt.timedelta(minutes=series.minutes), named, note)


def occurrences_between(scheme: Scheme, series: MeetingSeries, start: dt.datetime,
                        end: dt.datetime) -> list[Occurrence]:
    """The pattern's meetings starting after `start` and no later than `end` (aware times)."""
    found: list[Occurrence] = []
    year, month = start.astimezone(scheme.tz).year, start.astimezone(scheme.tz).month
    last = end.astimezone(scheme.tz)
    # A meeting moved past its month's end still belongs to that month: start a month early.
    year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    while (year, month) <= (last.year, last.month):
        if month in series.months:
            made = occurrence(scheme, series, year, month)
            if start < made.starts_at <= end:
                found.append(made)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


async def do_plan_meetings(session: AsyncSession, scheme: Scheme, *,
                           now: dt.datetime | None = None) -> list[Meeting]:
    """Put the pattern's meetings of the coming quarter in the diary and invite everyone,
    each once. One the office cancelled or moved keeps its key, so it is not made again."""
    from storage.operations.meetings import create_meeting   # meetings imports this module

    series = scheme.meetings.quarterly
    if series is None:
        return []
    now = now or utcnow()
    due = occurrences_between(scheme, series, now,
                              now + dt.timedelta(days=scheme.meetings.plan_days_ahead))
    if not due:
        return []
    known = set((await session.scalars(select(Meeting.series_key).where(
        Meeting.series_key.in_([o.key for o in due])))).all())
    made = []
    for planned in due:
        if planned.key in known:
            continue
        made.append(await create_meeting(
            session, scheme, kind=MeetingKind.QUARTERLY.value, title=series.title,
            place=series.venue or scheme.words.meeting_venue, starts_at=planned.starts_at,
            ends_at=planned.ends_at, actor=None, now=now, series_key=planned.key,
            date_note=planned.date_note))
    return made
