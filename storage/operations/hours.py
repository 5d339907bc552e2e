"""Hours and expenses an ambassador logs; expenses go submitted → approved → paid."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit, snapshot
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import ExpenseClaim, ExpenseStatus, HoursEntry, Person, utcnow
from storage.parsers import format_money
from storage.permissions import Action, require
from storage.scheme import Scheme

BACKDATE_DAYS = 92
EXPENSE_KINDS = ("mileage", "travel", "subsistence", "other")
# HMRC's approved mileage rate for the first 10,000 business miles.
MILEAGE_RATE_PENCE = 45
MAX_CLAIM_PENCE = 500_000


def _check_day(day: dt.date, today: dt.date, what: str) -> None:
    if day > today:
        raise InvalidInput(f"The {what} can't be in the future.", field="date")
    if day < today - dt.timedelta(days=BACKDATE_DAYS):
        raise InvalidInput(f"The {what} can be up to {BACKDATE_DAYS} days ago; please ask the "
                           "office about older ones.", field="date")


async def do_log_hours(session: AsyncSession, *, worked_on: dt.date, minutes: int,
                       description: str | None = None, engagement_id: int | None = None,
                       actor: Person, today: dt.date | None = None) -> HoursEntry:
    require(actor, Action.OWN_RECORDS, target_type="hours_entries")
    today = today or utcnow().date()
    _check_day(worked_on, today, "day worked")
    if not 0 < minutes <= 24 * 60:
        raise InvalidInput("Please give between 1 minute and 24 hours.", field="minutes")
    already = await session.scalar(select(func.coalesce(func.sum(HoursEntry.minutes), 0)).where(
        HoursEntry.person_id == actor.id, HoursEntry.worked_on == worked_on))
    if already + minutes > 24 * 60:
        raise InvalidInput(f"That would make more than 24 hours on {worked_on:%d %B}; you have "
                           f"already logged {already // 60}h{already % 60:02d}m that day.",
                           field="minutes")
    entry = HoursEntry(person_id=actor.id, worked_on=worked_on, minutes=minutes,
                       description=(description or "").strip()[:1000] or None,
                       engagement_id=engagement_id)
    session.add(entry)
    await session.flush()
    audit(session, actor, "log_hours", target=entry,
          after=snapshot(entry, "worked_on", "minutes"))
    return entry


async def minutes_in_month(session: AsyncSession, person_id: int, year: int, month: int) -> int:
    first = dt.date(year, month, 1)
    after = dt.date(year + month // 12, month % 12 + 1, 1)
    return await session.scalar(select(func.coalesce(func.sum(HoursEntry.minutes), 0)).where(
        HoursEntry.person_id == person_id, HoursEntry.worked_on >= first,
        HoursEntry.worked_on < after))


async def do_claim_expense(session: AsyncSession, scheme: Scheme, *, kind: str,
                           amount_pence: int | None, incurred_on: dt.date, description: str,
                           miles_tenths: int | None = None, receipt_file_id: str | None = None,
                           receipt_path: str | None = None, actor: Person,
                           today: dt.date | None = None) -> ExpenseClaim:
    """Claim reasonable expenses; mileage is priced at the HMRC rate from the miles given."""
    require(actor, Action.OWN_RECORDS, target_type="expense_claims")
    today = today or utcnow().date()
    if kind not in EXPENSE_KINDS:
        raise InvalidInput(f"Please choose the kind of expense: {', '.join(EXPENSE_KINDS)}.",
                           field="kind")
    _check_day(incurred_on, today, "date of the expense")
    if kind == "mileage":
        if not miles_tenths or miles_tenths <= 0 or miles_tenths > 10_000:
            raise InvalidInput("Please give the miles driven, from 0.1 to 1,000.",
                               field="miles")
        amount_pence = round(miles_tenths * MILEAGE_RATE_PENCE / 10)
    if amount_pence is None or amount_pence <= 0:
        raise InvalidInput("The amount must be more than £0.", field="amount")
    if amount_pence > MAX_CLAIM_PENCE:
        raise InvalidInput(f"Claims over {format_money(MAX_CLAIM_PENCE)} go to the office "
                           "directly; please contact them.", field="amount")
    description = (description or "").strip()
    if not description:
        raise InvalidInput("Please say what the expense was for.", field="description")
    if kind != "mileage" and not (receipt_file_id or receipt_path):
        raise InvalidInput("Please attach a photo of the receipt.", field="receipt")
    claim = ExpenseClaim(person_id=actor.id, kind=kind, amount_pence=amount_pence,
                         miles_tenths=miles_tenths, incurred_on=incurred_on,
                         description=description[:1000], receipt_file_id=receipt_file_id,
                         receipt_path=receipt_path, status=ExpenseStatus.SUBMITTED.value)
    session.add(claim)
    await session.flush()
    audit(session, actor, "claim_expense", target=claim,
          after=snapshot(claim, "kind", "amount_pence", "incurred_on"))
    outbox.to_channel(session, scheme, "engagements", "expense_claimed",
                      f"Expense claim from {actor.name}: {format_money(amount_pence)} "
                      f"({kind}) on {incurred_on:%d %B %Y}.",
                      data={"expense_id": claim.id, "amount_pence": amount_pence})
    return claim


async def _move_expense(session: AsyncSession, *, claim_id: int, actor: Person,
                        allowed_from: ExpenseStatus, to: ExpenseStatus, action: str,
                        reason: str | None, tell: str) -> ExpenseClaim:
    require(actor, Action.APPROVE_EXPENSES, target_type="expense_claims", target_id=claim_id)
    claim = await session.get(ExpenseClaim, claim_id)
    if claim is None:
        raise NotFound("That expense claim no longer exists.")
    now = utcnow()
    values: dict[str, object] = {"status": to.value}
    if to is ExpenseStatus.PAID:
        values["paid_at"] = now
    else:
        values.update(decided_by_id=actor.id, decided_at=now, decision_reason=reason)
    result = await session.execute(
        update(ExpenseClaim).where(ExpenseClaim.id == claim_id,
                                   ExpenseClaim.status == allowed_from.value)
        .values(**values).execution_options(synchronize_session=False))
    await session.refresh(claim)
    if result.rowcount != 1:
        raise Conflict(f"That claim is already {claim.status}.")
    audit(session, actor, action, target=claim, before={"status": allowed_from.value},
          after={"status": to.value}, reason=reason)
    claimant = await session.get(Person, claim.person_id)
    if claimant is not None:
        outbox.to_person(session, claimant, "expense_news",
                         f"Your expense claim of {format_money(claim.amount_pence)} "
                         f"({claim.incurred_on:%d %B}) {tell}",
                         data={"expense_id": claim.id, "status": claim.status})
    return claim


async def do_approve_expense(session: AsyncSession, *, claim_id: int,
                             actor: Person) -> ExpenseClaim:
    return await _move_expense(session, claim_id=claim_id, actor=actor,
                               allowed_from=ExpenseStatus.SUBMITTED, to=ExpenseStatus.APPROVED,
                               action="approve_expense", reason=None, tell="was approved.")


async def do_reject_expense(session: AsyncSession, *, claim_id: int, reason: str,
                            actor: Person) -> ExpenseClaim:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Please give a reason, so the ambassador knows what to do.")
    return await _move_expense(session, claim_id=claim_id, actor=actor,
                               allowed_from=ExpenseStatus.SUBMITTED, to=ExpenseStatus.REJECTED,
                               action="reject_expense", reason=reason,
                               tell=f"was not approved: {reason}")


async def do_mark_expense_paid(session: AsyncSession, *, claim_id: int,
                               actor: Person) -> ExpenseClaim:
    return await _move_expense(session, claim_id=claim_id, actor=actor,
                               allowed_from=ExpenseStatus.APPROVED, to=ExpenseStatus.PAID,
                               action="pay_expense", reason=None, tell="has been paid.")
