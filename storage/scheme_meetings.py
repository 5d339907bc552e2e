"""The scheme file's `meetings:` section: the quarterly meeting as a pattern the office writes
once ("second Tuesday of January, April, July and October, 10:00, Hindlip Park"), so nobody
types the year's dates in by hand. Read by storage/scheme.py; the dates are worked out by
storage/operations/meeting_series.py."""

from __future__ import annotations

import calendar
import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_NAMES = {1: "first", 2: "second", 3: "third", 4: "fourth", "last": "last"}
# February's longest month (a leap year): a day past it is impossible in some listed month.
LONGEST = {month: calendar.monthrange(2024, month)[1] for month in range(1, 13)}


class MeetingSeries(BaseModel):
    """One recurring meeting: the months it is held in, and either a day of the month
    (`day: 15`) or a week and weekday (`week: 2, weekday: tue`; week 1–4 or `last`)."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    title: str = Field("Quarterly ambassadors' meeting", min_length=1, max_length=200)
    months: list[int] = Field(min_length=1)
    week: int | str | None = None
    weekday: str | None = None
    day: int | None = None
    time: dt.time = dt.time(10)
    minutes: int = Field(120, gt=0, le=12 * 60)
    venue: str | None = Field(None, min_length=1, max_length=200)
    # Days before the meeting that ambassadors are reminded: the early reminder, then the
    # last (which a weekly catch-up gets too).
    remind_days_before: list[int] = Field(default_factory=lambda: [7, 1], min_length=2,
                                          max_length=2)

    @field_validator("remind_days_before")
    @classmethod
    def _reminders(cls, values: list[int]) -> list[int]:
        early, last = values
        if not 1 <= last < early <= 60:
            raise ValueError("give two numbers of days, the early reminder first and the "
                             "last one after it, e.g. [7, 1] (each 1 to 60)")
        return values

    @field_validator("months")
    @classmethod
    def _months(cls, values: list[int]) -> list[int]:
        for month in values:
            if not 1 <= month <= 12:
                raise ValueError(f"{month} is not a month (write 1 for January to 12 for "
                                 "December)")
        if len(set(values)) != len(values):
            raise ValueError("a month is listed twice")
        return sorted(values)

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()[:3]
        if value not in WEEKDAY_NAMES:
            raise ValueError(f"{value!r} is not a weekday (write mon, tue, wed, thu, fri, sat "
                             "or sun)")
        return value

    @field_validator("week")
    @classmethod
    def _week(cls, value: int | str | None) -> int | str | None:
        if value is None or value == "last" or value in (1, 2, 3, 4):
            return value
        if value == 5:
            raise ValueError("not every month has a fifth week; write 1 to 4, or last")
        raise ValueError(f"{value!r} is not a week of the month (write 1 to 4, or last)")

    @model_validator(mode="after")
    def _one_rule(self) -> MeetingSeries:
        if self.day is not None:
            if self.week is not None or self.weekday is not None:
                raise ValueError("give either a day of the month or a week and weekday, "
                                 "not both")
            if not 1 <= self.day <= 31:
                raise ValueError(f"{self.day} is not a day of the month")
            for month in self.months:
                if self.day > LONGEST[month]:
                    raise ValueError(f"{calendar.month_name[month]} has no "
                                     f"{_ordinal(self.day)} day")
            if self.day == 29 and 2 in self.months:
                raise ValueError("February has a 29th day only in a leap year; choose a day "
                                 "up to the 28th, or a week and weekday")
        elif self.week is None or self.weekday is None:
            raise ValueError("say which day: a week and weekday (week: 2, weekday: tue) or a "
                             "day of the month (day: 15)")
        return self

    def describe(self) -> str:
        """The rule in words, e.g. "the second Tuesday of January, April, July and October"."""
        months = [calendar.month_name[m] for m in self.months]
        listed = months[0] if len(months) == 1 else ", ".join(months[:-1]) + " and " + months[-1]
        if self.day is not None:
            return f"the {_ordinal(self.day)} of {listed}"
        weekday = calendar.day_name[WEEKDAY_NAMES.index(self.weekday or "mon")]
        return f"the {WEEK_NAMES[self.week]} {weekday} of {listed}"  # type: ignore[index]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class Meetings(BaseModel):
    """The meetings a scheme holds on a pattern. `quarterly` may be left out (no series)."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    quarterly: MeetingSeries | None = None
    # How far ahead the next meetings are put in the diary (and their invitations sent).
    plan_days_ahead: int = Field(92, gt=0, le=400)

    def remind_days_before(self) -> tuple[int, int]:
        """The early and the last reminder, in days before a meeting (a week and a day
        unless the scheme's quarterly meeting says otherwise)."""
        early, last = self.quarterly.remind_days_before if self.quarterly else (7, 1)
        return early, last
