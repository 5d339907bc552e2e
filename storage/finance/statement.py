"""The finance statement for a month or a quarter, per ambassador: the fee due (the scheme's
fee, paid monthly, quarterly or yearly, pro rata from the day they started), the approved
expenses to pay, and the hours logged against the commitment.

"To pay" means approved before the period ended and not paid before it began: a claim
approved in November and still unpaid appears again in December's statement, and one paid in
the period shows when it was paid.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidInput
from storage.models import Area, ExpenseClaim, ExpenseStatus, HoursEntry, Person, Role
from storage.permissions import Action, require
from storage.reports.periods import Period, parse_quarter
from storage.scheme import Scheme

MONTHS_PER_PAYMENT = {"month": 1, "quarter": 3, "year": 12}


def parse_month(text: str) -> Period:
    """`2026-11` → November 2026."""
    match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", text or "")
    if not match or not 1 <= int(match[2]) <= 12:
        raise InvalidInput(f"{text!r} is not a month; write it like 2026-11 (November 2026).")
    year, month = int(match[1]), int(match[2])
    first = dt.date(year, month, 1)
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    return Period(first, last, f"{first:%B %Y}", f"{year}-{month:02d}")


def period_of(month: str | None, quarter: str | None) -> Period:
    if bool(month) == bool(quarter):
        raise InvalidInput("Please give either --month (e.g. 2026-11) or --quarter "
                           "(e.g. 2026-Q3).")
    if month:
        return parse_month(month)
    try:
        return parse_quarter(quarter or "")
    except ValueError as error:
        raise InvalidInput(str(error).rstrip(".") + ".") from None


@dataclass
class ClaimLine:
    claim_id: int
    ambassador: str
    incurred_on: dt.date
    kind: str
    description: str
    amount_pence: int
    approved_on: dt.date | None
    paid_on: dt.date | None


@dataclass
class AmbassadorLine:
    person_id: int
    name: str
    area: str
    started_on: dt.date
    fee_pence: int
    expenses_pence: int
    minutes: int
    commitment_minutes: int
    claims: list[ClaimLine] = field(default_factory=list)

    @property
    def total_pence(self) -> int:
        return self.fee_pence + self.expenses_pence


@dataclass
class Statement:
    period: Period
    lines: list[AmbassadorLine]

    @property
    def claims(self) -> list[ClaimLine]:
        return [c for line in self.lines for c in line.claims]


def _months(period: Period) -> list[dt.date]:
    out, day = [], period.first.replace(day=1)
    while day <= period.last:
        out.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return out


def _month_share(monthly_pence: int, month: dt.date, started: dt.date) -> int:
    """The month's fee for someone who started on `started`: all of it, none of it, or the
    days served out of the days in the month."""
    days = calendar.monthrange(month.year, month.month)[1]
    last = month.replace(day=days)
    if started > last:
        return 0
    if started <= month:
        return monthly_pence
    return round(monthly_pence * ((last - started).days + 1) / days)


def fee_due(scheme: Scheme, period: Period, started: dt.date) -> int:
    """The fee that falls due in the period: paid at the end of each payment period (month,
    quarter of the financial year, or the financial year), pro rata from the start date."""
    finance = scheme.finance
    months_each = MONTHS_PER_PAYMENT[finance.fee_every]
    monthly = finance.fee_per_period(scheme.limits.annual_fee_pence) / months_each
    year_start = finance.year_start(period.first)
    due = 0
    for month in _months(period):
        since = (month.year - year_start.year) * 12 + month.month - year_start.month
        if (since % 12) % months_each != months_each - 1:
            continue                                   # not the last month of a payment
        for back in range(months_each):
            m = month
            for _ in range(back):
                m = (m - dt.timedelta(days=1)).replace(day=1)
            due += _month_share(round(monthly), m, started)
    return due


async def build_statement(session: AsyncSession, scheme: Scheme, period: Period, *,
                          actor: Person) -> Statement:
    """The statement's figures; only the office may see them (everyone's money)."""
    require(actor, Action.APPROVE_EXPENSES, target_type="expense_claims")
    tz = scheme.tz
    start, end = period.start(tz), period.end(tz)
    claims = (await session.execute(
        select(ExpenseClaim, Person.name).join(Person, Person.id == ExpenseClaim.person_id)
        .where(ExpenseClaim.status.in_([ExpenseStatus.APPROVED.value, ExpenseStatus.PAID.value]),
               ExpenseClaim.decided_at < end,
               or_(ExpenseClaim.paid_at.is_(None), ExpenseClaim.paid_at >= start))
        .order_by(Person.name, ExpenseClaim.incurred_on, ExpenseClaim.id))).all()
    by_person: dict[int, list[ClaimLine]] = {}
    for claim, name in claims:
        by_person.setdefault(claim.person_id, []).append(ClaimLine(
            claim.id, name, claim.incurred_on, claim.kind, claim.description,
            claim.amount_pence, claim.decided_at.astimezone(tz).date() if claim.decided_at
            else None, claim.paid_at.astimezone(tz).date() if claim.paid_at else None))
    minutes: dict[int, int] = {}
    for person_id, worked in (await session.execute(
            select(HoursEntry.person_id, HoursEntry.minutes)
            .where(HoursEntry.worked_on >= period.first, HoursEntry.worked_on <= period.last))
            ).all():
        minutes[person_id] = minutes.get(person_id, 0) + worked
    people = (await session.execute(
        select(Person, Area.name).outerjoin(Area, Area.id == Person.area_id)
        .order_by(Person.name, Person.id))).all()
    lines = []
    for person, area in people:
        if Role.AMBASSADOR.value not in person.roles:
            continue
        started = person.created_at.astimezone(tz).date()
        serving = person.active and person.erased_at is None and started <= period.last
        if not serving and person.id not in by_person and person.id not in minutes:
            continue
        own = by_person.get(person.id, [])
        lines.append(AmbassadorLine(
            person.id, person.name, area or "", started,
            fee_due(scheme, period, started) if serving else 0,
            sum(c.amount_pence for c in own), minutes.get(person.id, 0),
            person.monthly_hours * 60 * len(_months(period)), own))
    return Statement(period, lines)

