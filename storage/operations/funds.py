"""The grant fund by period (the financial year unless the office says otherwise).

A grant approval counts against the fund whose period holds the day of the decision (in the
scheme's zone); with no fund open that day the approval is refused with a sentence. The next
year's fund is opened by an administrator (`python -m bot fund open`), audited; unspent money
stays with its year unless the opening says to carry it over.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import audit
from storage.errors import Conflict, InvalidInput, Refused
from storage.models import Fund, FundLedgerEntry, Person, utcnow
from storage.parsers import format_date, format_money
from storage.permissions import Action, require
from storage.scheme import Scheme


class NoFundOpen(Refused):
    """No fund's period holds the day of the decision."""


def period_label(starts_on: dt.date, ends_on: dt.date) -> str:
    """"2026-27" for a year from April 2026; both dates for any other period."""
    if ends_on == starts_on.replace(year=starts_on.year + 1) - dt.timedelta(days=1):
        return f"{starts_on.year}-{(starts_on.year + 1) % 100:02d}"
    return f"{starts_on.isoformat()}/{ends_on.isoformat()}"


def parse_period(text: str, scheme: Scheme) -> tuple[dt.date, dt.date]:
    """"2027-28" (the financial year from the scheme's start day in 2027) or
    "2027-04-01/2028-03-31"."""
    text = (text or "").strip()
    year = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if year:
        first = int(year.group(1))
        if int(year.group(2)) != (first + 1) % 100:
            raise InvalidInput(f"A financial year is written like {first}-{(first + 1) % 100:02d}"
                               f" (the year it starts, then the next).", field="period")
        month, day = (int(p) for p in scheme.finance.financial_year_starts.split("-"))
        start = dt.date(first, month, day)
        return start, start.replace(year=first + 1) - dt.timedelta(days=1)
    try:
        start, end = (dt.date.fromisoformat(part) for part in text.split("/"))
    except ValueError:
        raise InvalidInput("Please give the period as a financial year such as 2027-28, or as "
                           "two dates: 2027-04-01/2028-03-31.", field="period") from None
    if end <= start:
        raise InvalidInput("The period must end after it starts.", field="period")
    return start, end


def fund_name(scheme: Scheme, starts_on: dt.date, ends_on: dt.date) -> str:
    return f"{scheme.name} grant fund {period_label(starts_on, ends_on)}"[:120]


def local_day(moment: dt.datetime, scheme: Scheme) -> dt.date:
    return moment.astimezone(scheme.tz).date()


async def fund_on(session: AsyncSession, day: dt.date) -> Fund | None:
    return await session.scalar(select(Fund).where(Fund.starts_on <= day, Fund.ends_on >= day)
                                .order_by(Fund.starts_on.desc()).limit(1))


async def fund_for_decision(session: AsyncSession, scheme: Scheme, when: dt.datetime) -> Fund:
    """The fund an approval at `when` counts against, or a sentence saying none is open."""
    day = local_day(when, scheme)
    fund = await fund_on(session, day)
    if fund is not None:
        return fund
    start, end = scheme.finance.financial_year(day)
    raise NoFundOpen(f"No grant fund is open for {format_date(day)}, so nothing can be "
                     f"approved yet. An administrator opens the {period_label(start, end)} "
                     "fund with `python -m bot fund open`.")


async def fund_as_of(session: AsyncSession, day: dt.date) -> Fund | None:
    """The fund to show on `day`: the one open then, else the last one before it."""
    return await fund_on(session, day) or await session.scalar(
        select(Fund).where(Fund.starts_on <= day).order_by(Fund.starts_on.desc()).limit(1))


async def do_open_fund(session: AsyncSession, scheme: Scheme, *, period: str,
                       amount_pence: int, carry_over: bool = False, actor: Person,
                       now: dt.datetime | None = None) -> Fund:
    """Open the fund for a period. Refused: a period already open, one overlapping another
    fund, an amount of £0 or less. With `carry_over`, what the fund just before it left
    unspent moves into it (and out of the old one, which then shows nothing left)."""
    require(actor, Action.CHANGE_SCHEME, target_type="funds")
    now = now or utcnow()
    if amount_pence <= 0:
        raise InvalidInput("The fund must be more than £0.", field="amount")
    start, end = parse_period(period, scheme)
    label = period_label(start, end)
    same = await session.scalar(select(Fund).where(Fund.starts_on == start,
                                                   Fund.ends_on == end))
    if same is not None:
        raise Conflict(f"The {label} fund is already open ({format_money(same.size_pence)}).")
    clash = await session.scalar(select(Fund).where(Fund.starts_on <= end,
                                                    Fund.ends_on >= start)
                                 .order_by(Fund.starts_on).limit(1))
    if clash is not None:
        raise Conflict(f"That period overlaps the fund for {format_date(clash.starts_on)} to "
                       f"{format_date(clash.ends_on)}; periods can't overlap.")
    carried, previous = 0, None
    if carry_over:
        previous = await session.scalar(select(Fund).where(Fund.ends_on < start)
                                        .order_by(Fund.ends_on.desc()).limit(1))
        if previous is None:
            raise InvalidInput("There is no earlier fund to carry money over from.",
                               field="carry_over")
        carried = previous.remaining_pence
    fund = Fund(name=fund_name(scheme, start, end), size_pence=amount_pence + carried,
                committed_pence=0, starts_on=start, ends_on=end)
    session.add(fund)
    await session.flush()
    if previous is not None and carried > 0:
        # Atomic like an approval: only what is still unspent at this moment moves.
        moved = await session.execute(
            update(Fund).where(Fund.id == previous.id,
                               Fund.committed_pence + carried <= Fund.size_pence)
            .values(committed_pence=Fund.committed_pence + carried)
            .execution_options(synchronize_session=False))
        if moved.rowcount != 1:
            raise Conflict("The earlier fund changed while this one was being opened; please "
                           "run the command again.")
        session.add(FundLedgerEntry(fund_id=previous.id, amount_pence=-carried, by_id=actor.id,
                                    note=f"Carried over to {label}", created_at=now))
    audit(session, actor, "open_fund", target=fund,
          after={"period": label, "starts_on": start, "ends_on": end,
                 "size_pence": fund.size_pence, "carried_over_pence": carried})
    return fund


async def committed_at(session: AsyncSession, fund: Fund, moment: dt.datetime) -> int:
    """What the fund had committed before `moment` (a past week's digest)."""
    return -int(await session.scalar(
        select(func.coalesce(func.sum(FundLedgerEntry.amount_pence), 0))
        .where(FundLedgerEntry.fund_id == fund.id, FundLedgerEntry.created_at < moment)))
