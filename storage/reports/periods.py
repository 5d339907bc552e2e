"""Report periods: calendar quarters (`2026-Q3`) and financial years (`2026-27`), measured in
the scheme's time zone from local midnight to local midnight."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

QUARTER_MONTHS = {1: "January to March", 2: "April to June", 3: "July to September",
                  4: "October to December"}


@dataclass(frozen=True)
class Period:
    """From `first` to `last` (both included), local dates."""
    first: dt.date
    last: dt.date
    label: str
    key: str

    @property
    def after(self) -> dt.date:
        return self.last + dt.timedelta(days=1)

    def start(self, tz: Any) -> dt.datetime:
        return local_midnight(self.first, tz)

    def end(self, tz: Any) -> dt.datetime:
        return local_midnight(self.after, tz)

    @property
    def months(self) -> int:
        return ((self.after.year - self.first.year) * 12 + self.after.month
                - self.first.month)


def local_midnight(day: dt.date, tz: Any) -> dt.datetime:
    """The first instant of a local day, as aware UTC."""
    return dt.datetime.combine(day, dt.time(0), tz).astimezone(dt.UTC)


def quarter(year: int, number: int) -> Period:
    first = dt.date(year, 3 * number - 2, 1)
    after = dt.date(year + 1, 1, 1) if number == 4 else dt.date(year, 3 * number + 1, 1)
    return Period(first, after - dt.timedelta(days=1),
                  f"{QUARTER_MONTHS[number]} {year}", f"{year}-Q{number}")


def parse_quarter(text: str) -> Period:
    """`2026-Q3` → July to September 2026."""
    match = re.fullmatch(r"\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*", text or "")
    if not match:
        raise ValueError(f"{text!r} is not a quarter; write it like 2026-Q3 (July to "
                         "September 2026)")
    return quarter(int(match[1]), int(match[2]))


def previous_quarter(period: Period) -> Period:
    year, number = int(period.key[:4]), int(period.key[-1])
    return quarter(year - 1, 4) if number == 1 else quarter(year, number - 1)


def financial_year(start_year: int, starts: tuple[int, int] = (4, 1)) -> Period:
    month, day = starts
    first = dt.date(start_year, month, day)
    after = dt.date(start_year + 1, month, day)
    return Period(first, after - dt.timedelta(days=1),
                  f"{first:%-d %B %Y} to {after - dt.timedelta(days=1):%-d %B %Y}",
                  f"{start_year}-{(start_year + 1) % 100:02d}")


def parse_year(text: str, starts: tuple[int, int] = (4, 1)) -> Period:
    """`2026-27` (or `2026`) → the financial year starting 1 April 2026."""
    match = re.fullmatch(r"\s*(\d{4})(?:\s*[-/]\s*(\d{2}|\d{4}))?\s*", text or "")
    if match and match[2]:
        following = int(match[2])
        if (following % 100 if following >= 100 else following) != (int(match[1]) + 1) % 100:
            match = None
    if not match:
        raise ValueError(f"{text!r} is not a year; write it like 2026-27 (April 2026 to "
                         "March 2027)")
    return financial_year(int(match[1]), starts)


def quarters_in(period: Period) -> list[Period]:
    """The calendar quarters a financial year is made of (April to March: four of them)."""
    out, day = [], period.first
    while day <= period.last:
        q = quarter(day.year, (day.month - 1) // 3 + 1)
        out.append(Period(max(q.first, period.first), min(q.last, period.last), q.label, q.key))
        day = q.after
    return out
