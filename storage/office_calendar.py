"""The office's working clock: its days, its hours and the bank holidays it keeps.

"Acknowledge within 4 hours" means four hours the office is open: an urgent item filed on a
Friday at 16:00 is due on Monday at 12:00, or Tuesday when Monday is a bank holiday. Hours are
wall-clock times in the scheme's zone, so 09:00 stays 09:00 across a clock change. Bank
holidays come from the `holidays` library (kept up to date by its maintainers, including the
one-off ones a coronation or a funeral brings), never from a list of our own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import lru_cache

import holidays

from storage.scheme import BANK_HOLIDAY_REGIONS, Scheme

# However odd a scheme's days, a year holds an office day; searching further means a bug.
_SEARCH_DAYS = 3660


@lru_cache(maxsize=64)
def _bank_holidays(subdivision: str, year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("GB", subdiv=subdivision, years=year))


def is_bank_holiday(scheme: Scheme, day: dt.date) -> bool:
    """Whether `day` is a bank holiday where the office is (none when the scheme says none)."""
    subdivision = BANK_HOLIDAY_REGIONS[scheme.office_hours.bank_holidays]
    return subdivision is not None and day in _bank_holidays(subdivision, day.year)


def is_office_day(scheme: Scheme, day: dt.date) -> bool:
    return day.weekday() in scheme.office_hours.weekdays and not is_bank_holiday(scheme, day)


def _opening(scheme: Scheme, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The day's opening and closing as aware UTC."""
    hours = scheme.office_hours
    opens = dt.datetime.combine(day, hours.opens, tzinfo=scheme.tz)
    closes = dt.datetime.combine(day, hours.closes, tzinfo=scheme.tz)
    return opens.astimezone(dt.UTC), closes.astimezone(dt.UTC)


def _openings_from(scheme: Scheme, when_utc: dt.datetime) -> Iterator[tuple[dt.datetime,
                                                                           dt.datetime]]:
    day = when_utc.astimezone(scheme.tz).date()
    for offset in range(_SEARCH_DAYS):
        current = day + dt.timedelta(days=offset)
        if is_office_day(scheme, current):
            yield _opening(scheme, current)
    raise RuntimeError(f"no office day within {_SEARCH_DAYS} days of {day}")


def _utc(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None:
        raise ValueError("office time needs an aware datetime (UTC in, UTC out)")
    return when.astimezone(dt.UTC)


def is_office_time(scheme: Scheme, when_utc: dt.datetime) -> bool:
    """Whether the office is open at `when_utc` (opening time included, closing excluded)."""
    when = _utc(when_utc)
    day = when.astimezone(scheme.tz).date()
    if not is_office_day(scheme, day):
        return False
    opens, closes = _opening(scheme, day)
    return opens <= when < closes


def add_office_time(scheme: Scheme, start_utc: dt.datetime,
                    duration: dt.timedelta) -> dt.datetime:
    """The moment `duration` of office time has passed since `start_utc` (aware UTC).

    Time outside office hours does not count: 4 hours from Friday 16:00 is Monday 12:00.
    A duration ending exactly at closing time ends then, not at the next opening.
    """
    cursor = _utc(start_utc)
    remaining = duration
    if remaining <= dt.timedelta(0):
        return cursor
    for opens, closes in _openings_from(scheme, cursor):
        begin = max(cursor, opens)
        if begin >= closes:
            continue
        if remaining <= closes - begin:
            return begin + remaining
        remaining -= closes - begin
    raise AssertionError("unreachable: _openings_from raises first")


def office_time_between(scheme: Scheme, start_utc: dt.datetime,
                        end_utc: dt.datetime) -> dt.timedelta:
    """How much office time lies between two moments (zero when `end_utc` is not later)."""
    start, end = _utc(start_utc), _utc(end_utc)
    total = dt.timedelta(0)
    if end <= start:
        return total
    for opens, closes in _openings_from(scheme, start):
        if opens >= end:
            return total
        begin, finish = max(start, opens), min(end, closes)
        if finish > begin:
            total += finish - begin
    raise AssertionError("unreachable: _openings_from raises first")
