"""The scheme file's `finance:` section: the financial year, each ambassador's fee, and the
expenses rules (kinds, limits, receipts, mileage rates, how old a claim may be).

Every key has a default, so a scheme file without the section still loads; the defaults are
the UK's: a financial year from 1 April, a tax year from 6 April, HMRC's approved mileage
rates (45p a mile for the first 10,000 business miles of a tax year, 25p after).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from storage.errors import InvalidInput
from storage.parsers import parse_money


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _pence(value: Any) -> int:
    """Money as people write it ("£1,000", "45p", "£0.45"); a bare integer is pounds."""
    if isinstance(value, bool):
        raise ValueError("write an amount such as £25")
    if isinstance(value, int):
        return value * 100
    text = str(value).strip()
    if text.endswith("p") and text[:-1].isdigit():
        return int(text[:-1])
    try:
        return parse_money(text)
    except InvalidInput as refusal:
        raise ValueError(refusal.sentence) from None


def _month_day(value: str) -> str:
    try:
        dt.date.fromisoformat(f"2001-{value}")
    except (TypeError, ValueError):
        raise ValueError("write the day as MM-DD, e.g. 04-01 for 1 April") from None
    return value


class ExpenseKind(_Strict):
    limit_pence: int = Field(alias="limit")
    receipt: bool = True

    @field_validator("limit_pence", mode="before")
    @classmethod
    def _money(cls, value: Any) -> int:
        pence = _pence(value)
        if pence <= 0:
            raise ValueError("the limit must be more than £0")
        return pence


class Mileage(_Strict):
    """Pence per mile: `first_rate` for the first `first_miles` of a tax year, then
    `after_rate`."""
    first_miles: int = Field(10_000, gt=0)
    first_rate_pence: int = Field(45, alias="first_rate")
    after_rate_pence: int = Field(25, alias="after_rate")

    @field_validator("first_rate_pence", "after_rate_pence", mode="before")
    @classmethod
    def _money(cls, value: Any) -> int:
        pence = _pence(value)
        if not 0 < pence <= 1000:
            raise ValueError("a rate per mile must be between 1p and £10")
        return pence


DEFAULT_KINDS = {
    "mileage": ExpenseKind(limit="£200", receipt=False),
    "travel": ExpenseKind(limit="£150"),
    "subsistence": ExpenseKind(limit="£30"),
    "other": ExpenseKind(limit="£100"),
}
PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}


class Finance(_Strict):
    financial_year_starts: str = "04-01"
    tax_year_starts: str = "04-06"
    # The fee paid each `fee_every`; when not given, the annual fee divided accordingly.
    fee_pence: int | None = Field(None, alias="fee")
    fee_every: Literal["month", "quarter", "year"] = "month"
    expense_kinds: dict[str, ExpenseKind] = Field(default_factory=lambda: dict(DEFAULT_KINDS))
    mileage: Mileage = Mileage()
    max_claim_age_days: int = Field(92, gt=0, le=3660)
    # The Slack channel for expense claims (the engagements channel when not given).
    expenses_channel: str | None = None

    @field_validator("financial_year_starts", "tax_year_starts")
    @classmethod
    def _day(cls, value: str) -> str:
        return _month_day(value)

    @field_validator("fee_pence", mode="before")
    @classmethod
    def _fee(cls, value: Any) -> int | None:
        if value is None:
            return None
        pence = _pence(value)
        if pence <= 0:
            raise ValueError("the fee must be more than £0")
        return pence

    @model_validator(mode="after")
    def _kinds(self) -> Finance:
        if not self.expense_kinds:
            raise ValueError("expense_kinds needs at least one kind")
        return self

    def fee_per_period(self, annual_fee_pence: int) -> int:
        return self.fee_pence or round(annual_fee_pence / PERIODS_PER_YEAR[self.fee_every])

    def year_start(self, day: dt.date, month_day: str | None = None) -> dt.date:
        """The first day of the financial year (or, given `tax_year_starts`, the tax year)
        that `day` falls in."""
        month, mday = (int(part) for part in (month_day or self.financial_year_starts)
                       .split("-"))
        start = dt.date(day.year, month, mday)
        return start if day >= start else dt.date(day.year - 1, month, mday)

    def financial_year(self, day: dt.date) -> tuple[dt.date, dt.date]:
        start = self.year_start(day)
        return start, _next_year(start) - dt.timedelta(days=1)

    def tax_year_start(self, day: dt.date) -> dt.date:
        return self.year_start(day, self.tax_year_starts)


def _next_year(day: dt.date) -> dt.date:
    return day.replace(year=day.year + 1)
