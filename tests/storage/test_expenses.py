"""Expense claims in storage: the scheme's rules (kinds, limits, receipts, mileage rates split
at the tax year's threshold, age, no future date, no £0), query and correction, approval once
however many click, payment once however many batches name a claim — each refusal a sentence
with nothing half-written."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storage.errors import Conflict, InvalidInput, NotAllowed
from storage.finance.settings import ExpenseKind, Finance, Mileage
from storage.models import AuditEvent, ExpenseClaim, Outbox, Role
from storage.operations import expenses
from tests.storage.seed import NOW, Cast

TODAY = NOW.date()


@pytest.fixture
async def cast(db, scheme) -> Cast:
    return await Cast.create(db, scheme)


async def claim(db, scheme, cast, **given) -> ExpenseClaim:
    values = {"kind": "travel", "amount_pence": 1240, "incurred_on": TODAY,
              "description": "Train to Ludlow", "receipt_path": "/safe/receipt.jpg"}
    values.update(given)
    async with db.transaction() as s:
        return await expenses.do_claim_expense(s, scheme, actor=await s.merge(cast.ambassador),
                                               today=TODAY, **values)


async def count(db, model=ExpenseClaim) -> int:
    async with db.transaction() as s:
        return await s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("given,sentence", [
    ({"incurred_on": TODAY + dt.timedelta(days=1)}, "can't be in the future"),
    ({"incurred_on": TODAY - dt.timedelta(days=93)}, "up to 92 days after the day"),
    ({"amount_pence": 0}, "more than £0"),
    ({"amount_pence": -500}, "more than £0"),
    ({"amount_pence": 15_001}, "Claims for travel can be up to £150; this one is £150.01"),
    ({"kind": "subsistence", "amount_pence": 3_500}, "Claims for subsistence can be up to £30"),
    ({"receipt_path": None}, "Please attach a photo of the receipt"),
    ({"kind": "taxi"}, "Please choose the kind of expense: mileage, travel, subsistence"),
    ({"description": "   "}, "Please say what the expense was for"),
    ({"kind": "mileage", "miles_tenths": 0, "amount_pence": None}, "Please give the miles"),
])
async def test_a_bad_claim_is_refused_with_a_sentence_and_nothing_written(
        db, scheme, cast, given, sentence) -> None:
    with pytest.raises(InvalidInput, match=sentence):
        await claim(db, scheme, cast, **given)
    assert await count(db) == 0 and await count(db, Outbox) == 0


def with_mileage(scheme, first_miles: int):
    finance = Finance(expense_kinds={"mileage": ExpenseKind(limit="£10,000", receipt=False)},
                      mileage=Mileage(first_miles=first_miles, first_rate="45p",
                                      after_rate="25p"))
    return scheme.model_copy(update={"finance": finance})


async def test_mileage_is_priced_at_the_scheme_rates_split_at_the_tax_years_threshold(
        db, scheme, cast) -> None:
    """The default is HMRC's: 45p for the first 10,000 miles of a tax year, 25p after. With a
    threshold of 100 miles: 90 at 45p, then 20 more = 10 at 45p + 10 at 25p; a new tax year
    (6 April) starts again at 45p. A mileage claim needs no receipt."""
    assert expenses.mileage_pence(scheme, 123, 0) == 554                # 12.3 miles at 45p
    assert expenses.mileage_pence(scheme, 100, 99_950) == 5 * 45 + 5 * 25  # default threshold
    small = with_mileage(scheme, 100)

    async def mileage(tenths: int, day: dt.date) -> int:
        async with db.transaction() as s:
            made = await expenses.do_claim_expense(
                s, small, kind="mileage", amount_pence=None, miles_tenths=tenths,
                incurred_on=day, description="Drive", actor=await s.merge(cast.ambassador),
                today=day)
            return made.amount_pence

    assert await mileage(900, dt.date(2026, 4, 5)) == 4050          # 2025-26 tax year
    assert await mileage(200, dt.date(2026, 4, 6)) == 900           # 2026-27 starts again
    assert await mileage(900, dt.date(2026, 4, 7)) == 80 * 45 + 10 * 25  # 8 + 1 over


async def test_query_correct_approve_pay_and_the_ambassador_told_each_time(
        db, scheme, cast) -> None:
    made = await claim(db, scheme, cast)
    async with db.transaction() as s:
        officer = await s.merge(cast.officer)
        queried = await expenses.do_query_expense(
            s, scheme, claim_id=made.id, reason="The receipt says £12.00", actor=officer)
        assert (queried.status, queried.decision_reason) == ("queried", "The receipt says £12.00")
        with pytest.raises(Conflict, match="already queried by Olive Officer"):
            await expenses.do_approve_expense(s, scheme, claim_id=made.id, actor=officer)
    async with db.transaction() as s:
        with pytest.raises(NotAllowed, match="belongs to someone else"):
            await expenses.do_correct_expense(
                s, scheme, claim_id=made.id, kind="travel", amount_pence=1200,
                incurred_on=TODAY, description="Train", actor=await s.merge(cast.other_ambassador),
                today=TODAY)
    async with db.transaction() as s:
        corrected = await expenses.do_correct_expense(
            s, scheme, claim_id=made.id, kind="travel", amount_pence=1200, incurred_on=TODAY,
            description="Train to Ludlow (return)", actor=await s.merge(cast.ambassador),
            today=TODAY)
        assert (corrected.status, corrected.amount_pence, corrected.receipt_path) == (
            "submitted", 1200, "/safe/receipt.jpg")        # the receipt sent first is kept
        await expenses.do_approve_expense(s, scheme, claim_id=made.id,
                                          actor=await s.merge(cast.deputy), now=NOW)
    async with db.transaction() as s:
        paid = await expenses.do_mark_expenses_paid(
            s, scheme, approved_before=NOW + dt.timedelta(seconds=1),
            actor=await s.merge(cast.officer), now=NOW)
        assert [c.id for c in paid] == [made.id]
        again = await expenses.do_mark_expenses_paid(
            s, scheme, approved_before=NOW + dt.timedelta(days=1),
            actor=await s.merge(cast.officer), now=NOW)
        assert again == []                                  # paid once
        with pytest.raises(Conflict, match="already paid by Olive Officer"):
            await expenses.do_approve_expense(s, scheme, claim_id=made.id,
                                              actor=await s.merge(cast.officer))
        news = (await s.scalars(select(Outbox).where(Outbox.event == "expense_news")
                                .order_by(Outbox.id))).all()
    assert [n.payload["status"] for n in news] == ["queried", "approved", "paid"]
    assert all(n.destination == str(cast.ambassador.telegram_id) for n in news)
    assert "correct it with /mine" in news[0].payload["text"]
    async with db.transaction() as s:
        posts = (await s.scalars(select(Outbox).where(Outbox.event == "expense_claimed")
                                 .order_by(Outbox.id))).all()
    # first post, its rewrite (queried), the corrected claim posted again, two rewrites
    assert [(p.ref is not None, p.payload["status"]) for p in posts] == [
        (True, "submitted"), (False, "queried"), (True, "submitted"), (False, "approved"),
        (False, "paid")]


async def test_two_officers_approving_at_once_make_one_approval(db, scheme, cast) -> None:
    made = await claim(db, scheme, cast)

    async def approve(who):
        async with db.transaction() as s:
            return await expenses.do_approve_expense(s, scheme, claim_id=made.id,
                                                     actor=await s.merge(who))

    results = await asyncio.gather(approve(cast.officer), approve(cast.deputy),
                                   return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "ExpenseClaim"]
    refused = next(r for r in results if isinstance(r, Conflict))
    assert "already approved by" in refused.sentence
    async with db.transaction() as s:
        approvals = await s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "approve_expense", AuditEvent.outcome == "done"))
        told = await s.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.event == "expense_news"))
    assert (approvals, told) == (1, 1)


ACTIONS = {
    "approve": lambda s, scheme, cid, a: expenses.do_approve_expense(s, scheme, claim_id=cid,
                                                                     actor=a),
    "query": lambda s, scheme, cid, a: expenses.do_query_expense(s, scheme, claim_id=cid,
                                                                 reason="Why?", actor=a),
    "reject": lambda s, scheme, cid, a: expenses.do_reject_expense(s, scheme, claim_id=cid,
                                                                   reason="No.", actor=a),
    "mark paid": lambda s, scheme, cid, a: expenses.do_mark_expenses_paid(
        s, scheme, approved_before=NOW, actor=a),
}
MAY = {Role.OFFICER, Role.DEPUTY, Role.ADMIN}


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_every_office_action_by_every_role(db, scheme, cast, action) -> None:
    """Only engagement officers, the deputy and administrators (the matrix's approve
    expenses); everyone else gets the matrix's sentence and the refusal is audited."""
    for role in Role:
        made = await claim(db, scheme, cast, amount_pence=1000 + list(Role).index(role))
        try:
            async with db.transaction() as s:
                await ACTIONS[action](s, scheme, made.id, await s.merge(cast.by_role(role)))
            done = True
        except NotAllowed as refusal:
            done = False
            assert refusal.sentence == ("Only engagement officers, the deputy and "
                                        "administrators can approve expenses.")
        assert done is (role in MAY), role
    async with db.transaction() as s:
        refusals = await s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.outcome == "refused"))
    assert refusals == len(Role) - len(MAY)


@given(st.integers(1, 10_000), st.integers(0, 200_000))
@hyp_settings(max_examples=300, deadline=None)
def test_mileage_is_never_more_than_the_first_rate_nor_less_than_the_second(
        scheme, tenths: int, already: int) -> None:
    pence = expenses.mileage_pence(scheme, tenths, already)
    assert round(tenths * 25 / 10) <= pence <= round(tenths * 45 / 10)
    if already >= 100_000:
        assert pence == round(tenths * 25 / 10)
    if already + tenths <= 100_000:
        assert pence == round(tenths * 45 / 10)
