"""Expense claims: submitted → approved → paid, or queried (the ambassador corrects it and it
is submitted again) or rejected, with the receipt kept as the media pipeline made it safe.

The rules are the scheme's (`finance:`): the kinds, a limit per kind, which kinds need a
receipt, mileage rates by the miles already claimed in the tax year, how old a claim may be.
Every decision is a conditional UPDATE on the status it starts from, so two officers clicking
at once make one decision, and a claim is paid once however many batches name it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit, snapshot
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import ExpenseClaim, ExpenseStatus, Outbox, Person, utcnow
from storage.parsers import clean_text, format_date, format_money, format_when
from storage.permissions import Action, require
from storage.scheme import Scheme

E = ExpenseStatus
STATUS_WORDS = {E.SUBMITTED: "waiting for the office", E.QUERIED: "queried by the office",
                E.APPROVED: "approved (to be paid)", E.REJECTED: "not approved",
                E.PAID: "paid"}
MAX_MILES_TENTHS = 10_000


def kinds(scheme: Scheme) -> list[str]:
    return list(scheme.finance.expense_kinds)


def office_ref(claim_id: int) -> str:
    """The office's post of a claim, rewritten by each decision."""
    return f"expense:{claim_id}:office"


def _channel(scheme: Scheme) -> str:
    return scheme.finance.expenses_channel or scheme.channels.engagements


async def _miles_this_tax_year(session: AsyncSession, scheme: Scheme, person_id: int,
                               day: dt.date, leave_out: int | None) -> int:
    start = scheme.finance.tax_year_start(day)
    where = [ExpenseClaim.person_id == person_id, ExpenseClaim.kind == "mileage",
             ExpenseClaim.status != E.REJECTED.value, ExpenseClaim.incurred_on >= start,
             ExpenseClaim.incurred_on < start.replace(year=start.year + 1)]
    if leave_out is not None:
        where.append(ExpenseClaim.id != leave_out)
    return int(await session.scalar(
        select(func.coalesce(func.sum(ExpenseClaim.miles_tenths), 0)).where(*where)))


def mileage_pence(scheme: Scheme, miles_tenths: int, already_tenths: int) -> int:
    """The first rate up to the tax year's threshold, the second rate after it."""
    rates = scheme.finance.mileage
    room = max(0, rates.first_miles * 10 - already_tenths)
    first = min(miles_tenths, room)
    return round((first * rates.first_rate_pence
                  + (miles_tenths - first) * rates.after_rate_pence) / 10)


async def _checked_amount(session: AsyncSession, scheme: Scheme, *, actor: Person, kind: str,
                          amount_pence: int | None, miles_tenths: int | None,
                          incurred_on: dt.date, description: str, has_receipt: bool,
                          today: dt.date, claim_id: int | None = None) -> int:
    """Every rule a claim must pass, whether new or corrected; the amount to record."""
    finance = scheme.finance
    rules = finance.expense_kinds.get(kind)
    if rules is None:
        raise InvalidInput(f"Please choose the kind of expense: {', '.join(kinds(scheme))}.",
                           field="kind")
    if incurred_on > today:
        raise InvalidInput("The date of the expense can't be in the future.", field="date")
    if incurred_on < today - dt.timedelta(days=finance.max_claim_age_days):
        raise InvalidInput(f"Expenses can be claimed up to {finance.max_claim_age_days} days "
                           "after the day; please ask the office about older ones.",
                           field="date")
    if kind == "mileage":
        if not miles_tenths or miles_tenths <= 0 or miles_tenths > MAX_MILES_TENTHS:
            raise InvalidInput("Please give the miles driven, from 0.1 to 1,000.",
                               field="miles")
        already = await _miles_this_tax_year(session, scheme, actor.id, incurred_on, claim_id)
        amount_pence = mileage_pence(scheme, miles_tenths, already)
    if amount_pence is None or amount_pence <= 0:
        raise InvalidInput("The amount must be more than £0.", field="amount")
    if amount_pence > rules.limit_pence:
        raise InvalidInput(f"Claims for {kind} can be up to {format_money(rules.limit_pence)}"
                           f"; this one is {format_money(amount_pence)}. Please ask the office "
                           "about larger ones.", field="amount")
    if not (description or "").strip():
        raise InvalidInput("Please say what the expense was for.", field="description")
    if rules.receipt and not has_receipt:
        raise InvalidInput("Please attach a photo of the receipt.", field="receipt")
    return amount_pence


def claim_data(claim: ExpenseClaim, claimant: Person | None, **extra: Any) -> dict[str, Any]:
    """What the office's post and the ambassador's messages are drawn from."""
    return {"expense_id": claim.id, "status": claim.status, "kind": claim.kind,
            "amount_pence": claim.amount_pence, "amount": format_money(claim.amount_pence),
            "miles_tenths": claim.miles_tenths, "incurred_on": claim.incurred_on.isoformat(),
            "description": claim.description, "ambassador": claimant.name if claimant else "",
            "safe_path": claim.receipt_path, "thumb_path": claim.receipt_thumb_path,
            "reason": claim.decision_reason, **extra}


def _office_post(session: AsyncSession, scheme: Scheme, claim: ExpenseClaim,
                 claimant: Person, line: str | None = None) -> Outbox:
    """A new post of the claim, with its receipt and the office's buttons."""
    row = Outbox(transport=outbox.SLACK, destination=_channel(scheme), event="expense_claimed",
                 payload={"text": f"Expense claim from {claimant.name}: "
                                  f"{format_money(claim.amount_pence)} ({claim.kind}) on "
                                  f"{format_date(claim.incurred_on)}.",
                          **claim_data(claim, claimant, line=line)},
                 ref=office_ref(claim.id))
    outbox.queue_row(session, row)
    return row


async def do_claim_expense(session: AsyncSession, scheme: Scheme, *, kind: str,
                           amount_pence: int | None, incurred_on: dt.date, description: str,
                           miles_tenths: int | None = None, receipt_file_id: str | None = None,
                           receipt_path: str | None = None,
                           receipt_thumb_path: str | None = None, actor: Person,
                           today: dt.date | None = None) -> ExpenseClaim:
    """An ambassador claims reasonable expenses; mileage is priced from the miles given."""
    require(actor, Action.OWN_RECORDS, target_type="expense_claims")
    today = today or utcnow().astimezone(scheme.tz).date()
    amount = await _checked_amount(
        session, scheme, actor=actor, kind=kind, amount_pence=amount_pence,
        miles_tenths=miles_tenths, incurred_on=incurred_on, description=description,
        has_receipt=bool(receipt_file_id or receipt_path), today=today)
    claim = ExpenseClaim(person_id=actor.id, kind=kind, amount_pence=amount,
                         miles_tenths=miles_tenths if kind == "mileage" else None,
                         incurred_on=incurred_on, description=description.strip()[:1000],
                         receipt_file_id=receipt_file_id, receipt_path=receipt_path,
                         receipt_thumb_path=receipt_thumb_path, status=E.SUBMITTED.value)
    session.add(claim)
    await session.flush()
    audit(session, actor, "claim_expense", target=claim,
          after=snapshot(claim, "kind", "amount_pence", "incurred_on"))
    _office_post(session, scheme, claim, actor)
    return claim


async def get_claim(session: AsyncSession, claim_id: int | None) -> ExpenseClaim:
    claim = await session.get(ExpenseClaim, claim_id) if claim_id else None
    if claim is None:
        raise NotFound("That expense claim no longer exists.")
    return claim


async def _already(session: AsyncSession, claim: ExpenseClaim) -> str:
    if claim.status == E.PAID.value:
        who = await session.get(Person, claim.paid_by_id) if claim.paid_by_id else None
        when = f" on {format_date(claim.paid_at.date())}" if claim.paid_at else ""
        return f"That claim was already paid{f' by {who.name}' if who else ''}{when}."
    who = await session.get(Person, claim.decided_by_id) if claim.decided_by_id else None
    when = f" on {format_date(claim.decided_at.date())}" if claim.decided_at else ""
    status = {E.SUBMITTED.value: "submitted again and is waiting for a decision",
              E.QUERIED.value: "queried"}.get(claim.status, claim.status)
    return f"That claim was already {status}{f' by {who.name}' if who else ''}{when}."


async def _move(session: AsyncSession, claim: ExpenseClaim, allowed_from: Sequence[E], to: E,
                **values: Any) -> None:
    """Move the status only if it is still one of `allowed_from` — race-safe on both
    databases: of two clicks at once, the second finds nothing to change."""
    result = await session.execute(
        update(ExpenseClaim).where(ExpenseClaim.id == claim.id,
                                   ExpenseClaim.status.in_([s.value for s in allowed_from]))
        .values(status=to.value, **values).execution_options(synchronize_session=False))
    await session.refresh(claim)
    if result.rowcount != 1:
        raise Conflict(await _already(session, claim))


async def _told(session: AsyncSession, scheme: Scheme, claim: ExpenseClaim, actor: Person,
                action: str, before: str, line: str, tell: str,
                reason: str | None = None) -> None:
    """Audit, rewrite the office's post, tell the ambassador: one transaction with the move."""
    audit(session, actor, action, target=claim, before={"status": before},
          after={"status": claim.status}, reason=reason)
    claimant = await session.get(Person, claim.person_id)
    data = claim_data(claim, claimant, line=line, by=actor.name)
    outbox.queue_row(session, Outbox(
        transport=outbox.SLACK, destination=_channel(scheme), event="expense_claimed",
        payload={"text": f"Expense claim #{claim.id} ({format_money(claim.amount_pence)}, "
                         f"{claimant.name if claimant else ''}): {line}", **data},
        replaces_ref=office_ref(claim.id)))
    if claimant is not None:
        outbox.to_person(session, claimant, "expense_news",
                         f"Your expense claim of {format_money(claim.amount_pence)} "
                         f"({claim.kind}, {format_date(claim.incurred_on)}) {tell}", data=data)


def _reason(text: str | None) -> str:
    text = clean_text(text)
    if not text:
        raise InvalidInput("Please give a reason, so the ambassador knows what to do.",
                           field="reason")
    if len(text) > 2000:
        raise InvalidInput(f"The reason can be up to 2,000 characters; yours has "
                           f"{len(text):,}. Please shorten it.", field="reason")
    return text


async def do_approve_expense(session: AsyncSession, scheme: Scheme, *,
                             claim_id: int, actor: Person,
                             now: dt.datetime | None = None) -> ExpenseClaim:
    """An officer or the deputy approves a submitted claim; it is then waiting to be paid."""
    require(actor, Action.APPROVE_EXPENSES, target_type="expense_claims", target_id=claim_id)
    now = now or utcnow()
    claim = await get_claim(session, claim_id)
    await _move(session, claim, (E.SUBMITTED,), E.APPROVED, decided_by_id=actor.id,
                decided_at=now, decision_reason=None)
    await _told(session, scheme, claim, actor, "approve_expense", E.SUBMITTED.value,
                f"approved by {actor.name} on {format_when(now, scheme.timezone)}",
                "was approved. It will be paid with the next batch.")
    return claim


async def do_query_expense(session: AsyncSession, scheme: Scheme, *, claim_id: int,
                           reason: str, actor: Person,
                           now: dt.datetime | None = None) -> ExpenseClaim:
    """The office asks about a claim; the ambassador corrects it from /mine."""
    require(actor, Action.APPROVE_EXPENSES, target_type="expense_claims", target_id=claim_id)
    reason = _reason(reason)
    now = now or utcnow()
    claim = await get_claim(session, claim_id)
    await _move(session, claim, (E.SUBMITTED,), E.QUERIED, decided_by_id=actor.id,
                decided_at=now, decision_reason=reason)
    await _told(session, scheme, claim, actor, "query_expense", E.SUBMITTED.value,
                f"queried by {actor.name}: {reason}",
                f"has a question from the office: {reason} — correct it with /mine.",
                reason=reason)
    return claim


async def do_reject_expense(session: AsyncSession, scheme: Scheme, *,
                            claim_id: int, reason: str, actor: Person,
                            now: dt.datetime | None = None) -> ExpenseClaim:
    require(actor, Action.APPROVE_EXPENSES, target_type="expense_claims", target_id=claim_id)
    reason = _reason(reason)
    now = now or utcnow()
    claim = await get_claim(session, claim_id)
    before = claim.status
    await _move(session, claim, (E.SUBMITTED, E.QUERIED), E.REJECTED, decided_by_id=actor.id,
                decided_at=now, decision_reason=reason)
    await _told(session, scheme, claim, actor, "reject_expense", before,
                f"not approved by {actor.name}: {reason}", f"was not approved: {reason}",
                reason=reason)
    return claim


async def do_correct_expense(session: AsyncSession, scheme: Scheme, *, claim_id: int,
                             kind: str, amount_pence: int | None, incurred_on: dt.date,
                             description: str, miles_tenths: int | None = None,
                             receipt_file_id: str | None = None,
                             receipt_path: str | None = None,
                             receipt_thumb_path: str | None = None, actor: Person,
                             today: dt.date | None = None) -> ExpenseClaim:
    """The ambassador answers a query by correcting the claim; it goes to the office again,
    as a new post (with the receipt as it now is). A receipt not sent again is kept."""
    claim = await get_claim(session, claim_id)
    require(actor, Action.OWN_RECORDS, target_type="expense_claims", target_id=claim_id,
            owner_id=claim.person_id)
    if claim.status != E.QUERIED.value:
        raise Conflict(f"That claim is {STATUS_WORDS[E(claim.status)]}, so it can't be "
                       "changed now.")
    today = today or utcnow().astimezone(scheme.tz).date()
    receipt = {"receipt_file_id": receipt_file_id, "receipt_path": receipt_path,
               "receipt_thumb_path": receipt_thumb_path} if receipt_path or receipt_file_id \
        else {}
    amount = await _checked_amount(
        session, scheme, actor=actor, kind=kind, amount_pence=amount_pence,
        miles_tenths=miles_tenths, incurred_on=incurred_on, description=description,
        has_receipt=bool(receipt or claim.receipt_path or claim.receipt_file_id), today=today,
        claim_id=claim.id)
    before = snapshot(claim, "kind", "amount_pence", "incurred_on", "status")
    await _move(session, claim, (E.QUERIED,), E.SUBMITTED, kind=kind, amount_pence=amount,
                miles_tenths=miles_tenths if kind == "mileage" else None,
                incurred_on=incurred_on, description=description.strip()[:1000], **receipt)
    audit(session, actor, "correct_expense", target=claim, before=before,
          after=snapshot(claim, "kind", "amount_pence", "incurred_on", "status"))
    _office_post(session, scheme, claim, actor,
                 line=f"corrected by {actor.name} after the office's question")
    return claim


async def do_mark_expenses_paid(session: AsyncSession, scheme: Scheme, *,
                                approved_before: dt.datetime, actor: Person,
                                now: dt.datetime | None = None) -> list[ExpenseClaim]:
    """Mark every claim approved before `approved_before` and not yet paid as paid, as one
    batch. A claim another batch paid meanwhile is left alone (paid once)."""
    require(actor, Action.APPROVE_EXPENSES, target_type="expense_claims")
    now = now or utcnow()
    waiting = (await session.scalars(
        select(ExpenseClaim).where(ExpenseClaim.status == E.APPROVED.value,
                                   ExpenseClaim.decided_at < approved_before)
        .order_by(ExpenseClaim.id))).all()
    paid = []
    for claim in waiting:
        result = await session.execute(
            update(ExpenseClaim).where(ExpenseClaim.id == claim.id,
                                       ExpenseClaim.status == E.APPROVED.value)
            .values(status=E.PAID.value, paid_at=now, paid_by_id=actor.id)
            .execution_options(synchronize_session=False))
        await session.refresh(claim)
        if result.rowcount != 1:
            continue
        await _told(session, scheme, claim, actor, "pay_expense", E.APPROVED.value,
                    f"paid — marked by {actor.name} on {format_date(now.astimezone(scheme.tz).date())}",
                    "has been paid.")
        paid.append(claim)
    return paid


async def do_mark_expense_paid(session: AsyncSession, scheme: Scheme, *,
                               claim_id: int, actor: Person,
                               now: dt.datetime | None = None) -> ExpenseClaim:
    """One claim paid (the batch above is what the office uses)."""
    require(actor, Action.APPROVE_EXPENSES, target_type="expense_claims", target_id=claim_id)
    now = now or utcnow()
    claim = await get_claim(session, claim_id)
    await _move(session, claim, (E.APPROVED,), E.PAID, paid_at=now, paid_by_id=actor.id)
    await _told(session, scheme, claim, actor, "pay_expense", E.APPROVED.value,
                f"paid — marked by {actor.name}", "has been paid.")
    return claim


async def claims_waiting(session: AsyncSession, *, limit: int = 500
                         ) -> tuple[list[tuple[ExpenseClaim, str]], list[tuple[ExpenseClaim, str]]]:
    """For the office's App Home: claims waiting for a decision, and approved claims waiting
    to be paid, oldest first, each with the claimant's name."""
    def query(status: E) -> Any:
        return (select(ExpenseClaim, Person.name)
                .join(Person, Person.id == ExpenseClaim.person_id)
                .where(ExpenseClaim.status == status.value)
                .order_by(ExpenseClaim.created_at, ExpenseClaim.id).limit(limit))
    undecided = [(c, n) for c, n in (await session.execute(query(E.SUBMITTED))).all()]
    to_pay = [(c, n) for c, n in (await session.execute(query(E.APPROVED))).all()]
    return undecided, to_pay


async def my_claims(session: AsyncSession, actor: Person, *, limit: int = 10
                    ) -> list[ExpenseClaim]:
    require(actor, Action.OWN_RECORDS, target_type="expense_claims")
    return list((await session.scalars(
        select(ExpenseClaim).where(ExpenseClaim.person_id == actor.id)
        .order_by(ExpenseClaim.created_at.desc(), ExpenseClaim.id.desc()).limit(limit))).all())
