"""The grant fund by financial year: an approval counts against the fund of the period its
decision falls in (in the scheme's zone), none is approved outside an open period, funds are
opened once per period without overlaps, unspent money stays behind unless carried over, and a
past week's digest shows the fund as it stood then."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from scheduler.digest import build_digest, digest_text
from storage.errors import Conflict, FundExhausted, InvalidInput, NotAllowed
from storage.finance.statement import parse_month
from storage.models import AuditEvent, Fund, FundLedgerEntry, GrantRecommendation
from storage.operations import funds, grants
from storage.operations.people import the_fund
from tests.storage.seed import Cast

LONDON = ZoneInfo("Europe/London")
# 23:59:59 on 31 March 2027 in London is 22:59:59 UTC (British Summer Time from 28 March).
LAST_SECOND = dt.datetime(2027, 3, 31, 23, 59, 59, tzinfo=LONDON).astimezone(dt.UTC)
NEXT_YEAR = dt.datetime(2027, 4, 1, 0, 0, 1, tzinfo=LONDON).astimezone(dt.UTC)


@pytest.fixture
async def cast(db, scheme) -> Cast:
    return await Cast.create(db, scheme)


async def referred(db, scheme, cast, amount: int, name: str = "Ludlow Youth Club") -> int:
    async with db.transaction() as s:
        grant = await grants.do_recommend_grant(
            s, scheme, applicant_organisation=name, applicant_contact="Sam, 01584 000000",
            project="Boxing", amount_pence=amount, objectives=[scheme.plan_objectives[0]],
            actor=await s.merge(cast.ambassador))
        await grants.do_refer_grant(s, scheme, grant_id=grant.id,
                                    actor=await s.merge(cast.commissioning))
        return grant.id


async def approve(db, scheme, cast, grant_id: int, now: dt.datetime):
    async with db.transaction() as s:
        return await grants.do_approve_grant(s, scheme, grant_id=grant_id, now=now,
                                             actor=await s.merge(cast.commissioner))


async def open_fund(db, scheme, cast, period: str, amount: int, carry: bool = False) -> Fund:
    async with db.transaction() as s:
        return await funds.do_open_fund(s, scheme, period=period, amount_pence=amount,
                                        carry_over=carry, actor=await s.merge(cast.admin),
                                        now=NEXT_YEAR)


async def fund_for(db, day: dt.date) -> Fund:
    async with db.transaction() as s:
        return await funds.fund_on(s, day)


async def test_two_approvals_racing_at_the_last_second_of_the_year(db, scheme, cast) -> None:
    """At 23:59:59 on 31 March both count against 2026-27, which has room for one: one is
    approved, the other refused with the fund's sentence; a second later (1 April) nothing
    can be approved until 2027-28 is opened, and then it counts against 2027-28."""
    year = await fund_for(db, dt.date(2026, 11, 24))
    async with db.transaction() as s:
        fund = await s.get(Fund, year.id)
        fund.committed_pence = fund.size_pence - 60_000
    first = await referred(db, scheme, cast, 50_000)
    second = await referred(db, scheme, cast, 40_000, "Clun Scouts")
    results = await asyncio.gather(approve(db, scheme, cast, first, LAST_SECOND),
                                   approve(db, scheme, cast, second, LAST_SECOND),
                                   return_exceptions=True)
    kinds = sorted(type(r).__name__ for r in results)
    assert kinds == ["FundExhausted", "GrantRecommendation"], results
    refused = next(r for r in results if isinstance(r, FundExhausted))
    assert "would take the fund below zero" in refused.sentence
    assert (await fund_for(db, dt.date(2027, 3, 31))).remaining_pence in (10_000, 20_000)
    late = first if isinstance(results[1], GrantRecommendation) else second

    with pytest.raises(funds.NoFundOpen, match="No grant fund is open for Thu 1 Apr 2027.*the 2027-28 fund"):
        await approve(db, scheme, cast, late, NEXT_YEAR)
    async with db.transaction() as s:
        assert (await s.get(GrantRecommendation, late)).status == "referred"  # nothing moved

    opened = await open_fund(db, scheme, cast, "2027-28", 4_000_000)
    assert (opened.starts_on, opened.ends_on) == (dt.date(2027, 4, 1), dt.date(2028, 3, 31))
    await approve(db, scheme, cast, late, NEXT_YEAR)
    new_year = await fund_for(db, dt.date(2027, 4, 1))
    assert new_year.committed_pence in (40_000, 50_000)
    async with db.transaction() as s:
        entries = (await s.execute(select(FundLedgerEntry.fund_id, FundLedgerEntry.created_at)
                                   .order_by(FundLedgerEntry.id))).all()
    assert [e.fund_id for e in entries] == [year.id, new_year.id]


async def test_opening_a_fund_refuses_duplicates_overlaps_and_bad_amounts(
        db, scheme, cast) -> None:
    await open_fund(db, scheme, cast, "2027-28", 4_000_000)
    for period, amount, error, sentence in (
            ("2027-28", 4_000_000, Conflict, "The 2027-28 fund is already open (£40,000)"),
            ("2027-10-01/2028-09-30", 100, Conflict, "overlaps the fund for Thu 1 Apr 2027 to Fri 31 Mar 2028"),
            ("2028-29", -500, InvalidInput, "must be more than £0"),
            ("2028-29", 0, InvalidInput, "must be more than £0"),
            ("2028-30", 100, InvalidInput, "written like 2028-29"),
            ("next year", 100, InvalidInput, "as a financial year such as 2027-28")):
        with pytest.raises(error, match=re.escape(sentence)):
            await open_fund(db, scheme, cast, period, amount)
    with pytest.raises(NotAllowed):
        async with db.transaction() as s:
            await funds.do_open_fund(s, scheme, period="2028-29", amount_pence=100,
                                     actor=await s.merge(cast.officer))
    async with db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Fund)) == 2
        opened = (await s.scalars(select(AuditEvent).where(
            AuditEvent.action == "open_fund", AuditEvent.outcome == "done"))).all()
    assert [a.after["period"] for a in opened] == ["2027-28"]


async def test_unspent_money_is_carried_over_only_when_asked(db, scheme, cast) -> None:
    grant = await referred(db, scheme, cast, 100_000)
    await approve(db, scheme, cast, grant, dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC))
    plain = await open_fund(db, scheme, cast, "2027-28", 4_000_000)
    assert plain.size_pence == 4_000_000
    carried = await open_fund(db, scheme, cast, "2028-29", 4_000_000, carry=True)
    assert carried.size_pence == 8_000_000          # 2027-28 spent nothing
    async with db.transaction() as s:
        old = await s.get(Fund, plain.id)
        assert old.remaining_pence == 0
        audit = await s.scalar(select(AuditEvent).where(AuditEvent.action == "open_fund")
                               .order_by(AuditEvent.id.desc()).limit(1))
    assert audit.after["carried_over_pence"] == 4_000_000


async def test_a_past_weeks_digest_shows_the_fund_as_it_stood_then(db, scheme, cast) -> None:
    """Approved in the week of 23 November: the week before still shows the whole fund; that
    week shows it £1,000 lower, whatever has been approved since."""
    grant = await referred(db, scheme, cast, 100_000)
    await approve(db, scheme, cast, grant, dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC))
    later = await referred(db, scheme, cast, 20_000, "Clun Scouts")
    await approve(db, scheme, cast, later, dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC))
    async with db.transaction() as s:
        before = await build_digest(s, scheme, dt.date(2026, 11, 16))
        during = await build_digest(s, scheme, dt.date(2026, 11, 23))
    assert (before.fund_remaining_pence, during.fund_remaining_pence) == (4_000_000, 3_900_000)
    assert "Fund remaining (2026-27): £39,000 of £40,000." in digest_text(during)
    async with db.transaction() as s:
        today = await the_fund(s, scheme, dt.date(2026, 12, 4))
    assert today.remaining_pence == 3_880_000


@given(st.text(max_size=40))
@hyp_settings(max_examples=300, deadline=None)
def test_any_typed_period_is_a_period_or_a_sentence(scheme, text: str) -> None:
    """Whatever is typed after --period: two dates in order, or a refusal in words."""
    try:
        start, end = funds.parse_period(text, scheme)
    except InvalidInput as refusal:
        assert refusal.sentence.endswith(".") and "Traceback" not in refusal.sentence
    else:
        assert start < end


@given(st.text(max_size=20))
@hyp_settings(max_examples=300, deadline=None)
def test_any_typed_month_is_a_month_or_a_sentence(text: str) -> None:
    try:
        period = parse_month(text)
    except InvalidInput as refusal:
        assert "write it like 2026-11" in refusal.sentence
    else:
        assert period.first.day == 1 and period.last.month == period.first.month
