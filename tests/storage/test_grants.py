"""Grant recommendations, the decision chain and the fund (DESIGN §1, §8)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from storage.errors import Conflict, FundExhausted, InvalidInput, NotAllowed
from storage.models import (AuditEvent, Fund, FundLedgerEntry, GrantRecommendation, Outbox,
                            Person)
from storage.operations import grants as g
from storage.operations.people import the_fund
from tests.storage.seed import Cast

OBJECTIVE = "Reassuring West Mercia's communities"


async def recommend(db, scheme, actor: Person, amount: int = 75_000) -> int:
    async with db.transaction() as s:
        grant = await g.do_recommend_grant(
            s, scheme, applicant_organisation="Ludlow Youth Club",
            applicant_contact="Sam, 01584 000000", project="Summer boxing sessions",
            amount_pence=amount, objectives=[OBJECTIVE], actor=await s.merge(actor))
        return grant.id


async def count(db, model, *where) -> int:
    async with db.transaction() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
async def cast(db, scheme) -> Cast:
    return await Cast.create(db, scheme)


async def test_recommendation_goes_to_the_grants_channel(db, scheme, cast) -> None:
    """A recommendation is recorded, audited and posted to the grants channel in one go."""
    grant_id = await recommend(db, scheme, cast.ambassador)
    async with db.transaction() as s:
        grant = await s.get(GrantRecommendation, grant_id)
        assert grant.status == "recommended" and grant.amount_pence == 75_000
        post = await s.scalar(select(Outbox).where(Outbox.ref == f"grant:{grant_id}:grants"))
        assert post.destination == "#ambassador-grants"
        assert "£750 to Ludlow Youth Club" in post.payload["text"]
        assert await s.scalar(select(AuditEvent).where(AuditEvent.action == "recommend_grant"))


@pytest.mark.parametrize("amount,sentence", [
    (100_050, "£1,000.50 is over the £1,000 limit for a grant. Please enter £1,000 or less."),
    (0, "The amount must be more than £0."),
    (-500, "The amount must be more than £0."),
])
async def test_amount_over_cap_or_not_positive_is_refused_and_nothing_written(
        db, scheme, cast, amount, sentence) -> None:
    with pytest.raises(InvalidInput) as refused:
        await recommend(db, scheme, cast.ambassador, amount)
    assert refused.value.sentence == sentence
    assert await count(db, GrantRecommendation) == 0
    assert await count(db, Outbox) == 0
    assert await count(db, AuditEvent, AuditEvent.action == "recommend_grant") == 0


async def test_exactly_the_cap_is_accepted(db, scheme, cast) -> None:
    await recommend(db, scheme, cast.ambassador, 100_000)
    assert await count(db, GrantRecommendation) == 1


async def test_missing_applicant_or_objective_is_refused(db, scheme, cast) -> None:
    async with db.transaction() as s:
        with pytest.raises(InvalidInput, match="applicant organisation"):
            await g.do_recommend_grant(s, scheme, applicant_organisation="  ",
                                       applicant_contact="x", project="y", amount_pence=100,
                                       objectives=[OBJECTIVE], actor=await s.merge(cast.ambassador))
        with pytest.raises(InvalidInput, match="at least one objective"):
            await g.do_recommend_grant(s, scheme, applicant_organisation="A",
                                       applicant_contact="x", project="y", amount_pence=100,
                                       objectives=[], actor=await s.merge(cast.ambassador))
        with pytest.raises(InvalidInput, match="objectives from the Safer West Mercia Plan"):
            await g.do_recommend_grant(s, scheme, applicant_organisation="A",
                                       applicant_contact="x", project="y", amount_pence=100,
                                       objectives=["Made up"], actor=await s.merge(cast.ambassador))


async def test_full_chain_updates_the_fund_and_tells_the_ambassador(db, scheme, cast) -> None:
    """recommended → referred → approved: the fund drops, the ledger says why, the ambassador
    hears on Telegram and the grants post is rewritten in place."""
    grant_id = await recommend(db, scheme, cast.ambassador)
    async with db.transaction() as s:
        await g.do_refer_grant(s, scheme, grant_id=grant_id, actor=await s.merge(cast.commissioning))
    async with db.transaction() as s:
        dm = await s.scalar(select(Outbox).where(Outbox.event == "grant_for_decision"))
        assert dm.destination == str(cast.commissioner.telegram_id)
        await g.do_approve_grant(s, scheme, grant_id=grant_id, actor=await s.merge(cast.commissioner))
    async with db.transaction() as s:
        fund = await the_fund(s, scheme)
        assert fund.remaining_pence == 4_000_000 - 75_000
        ledger = (await s.scalars(select(FundLedgerEntry))).all()
        assert [e.amount_pence for e in ledger] == [-75_000]
        news = (await s.scalars(select(Outbox).where(Outbox.event == "grant_news"))).all()
        assert news[-1].destination == str(cast.ambassador.telegram_id)
        assert "approved your grant recommendation of £750" in news[-1].payload["text"]
        rewrites = (await s.scalars(select(Outbox).where(
            Outbox.replaces_ref == f"grant:{grant_id}:grants"))).all()
        assert "approved by John Campion" in rewrites[-1].payload["text"]


async def test_second_approve_says_who_decided(db, scheme, cast) -> None:
    grant_id = await recommend(db, scheme, cast.ambassador)
    async with db.transaction() as s:
        await g.do_refer_grant(s, scheme, grant_id=grant_id, actor=await s.merge(cast.commissioning))
        await g.do_approve_grant(s, scheme, grant_id=grant_id, actor=await s.merge(cast.commissioner))
    with pytest.raises(Conflict, match="already approved by John Campion"):
        async with db.transaction() as s:
            await g.do_approve_grant(s, scheme, grant_id=grant_id,
                                     actor=await s.merge(cast.commissioner))
    async with db.transaction() as s:
        assert (await the_fund(s, scheme)).remaining_pence == 4_000_000 - 75_000


async def test_info_request_answer_and_decline(db, scheme, cast) -> None:
    grant_id = await recommend(db, scheme, cast.ambassador)
    async with db.transaction() as s:
        await g.do_request_grant_info(s, scheme, grant_id=grant_id, question="Who runs it?",
                                      actor=await s.merge(cast.commissioning))
    with pytest.raises(Conflict, match="waiting for more information"):
        async with db.transaction() as s:
            await g.do_refer_grant(s, scheme, grant_id=grant_id,
                                   actor=await s.merge(cast.commissioning))
    async with db.transaction() as s:
        await g.do_answer_grant_info(s, scheme, grant_id=grant_id, answer="The parish council",
                                     actor=await s.merge(cast.ambassador))
        await g.do_add_deputy_recommendation(s, scheme, grant_id=grant_id,
                                             recommendation="Support", actor=await s.merge(cast.deputy))
        grant = await g.do_decline_grant(s, scheme, grant_id=grant_id, reason="Outside the plan",
                                         actor=await s.merge(cast.commissioning))
        assert grant.status == "rejected"
        assert "Answer from Ann Shropshire: The parish council" in grant.info_request
        assert grant.deputy_recommendation == "Support"


async def test_approval_beyond_the_fund_is_refused(db, scheme, cast) -> None:
    grant_id = await recommend(db, scheme, cast.ambassador, 100_000)
    async with db.transaction() as s:
        fund = await the_fund(s, scheme)
        fund.committed_pence = fund.size_pence - 50_000
        await g.do_refer_grant(s, scheme, grant_id=grant_id, actor=await s.merge(cast.commissioning))
    with pytest.raises(FundExhausted, match="only £500 remains"):
        async with db.transaction() as s:
            await g.do_approve_grant(s, scheme, grant_id=grant_id,
                                     actor=await s.merge(cast.commissioner))
    async with db.transaction() as s:
        assert (await s.get(GrantRecommendation, grant_id)).status == "referred"
        assert await s.scalar(select(func.count()).select_from(FundLedgerEntry)) == 0


async def test_two_approvals_racing_for_the_last_pounds_cannot_both_pass(db, scheme, cast) -> None:
    """Two Commissioners' approvals in concurrent transactions; only £1,000 left for two £750s."""
    first = await recommend(db, scheme, cast.ambassador)
    second = await recommend(db, scheme, cast.ambassador)
    async with db.transaction() as s:
        fund = await the_fund(s, scheme)
        fund.committed_pence = fund.size_pence - 100_000
        for grant_id in (first, second):
            await g.do_refer_grant(s, scheme, grant_id=grant_id,
                                   actor=await s.merge(cast.commissioning))

    async def approve(grant_id: int) -> str:
        try:
            async with db.transaction() as s:
                await g.do_approve_grant(s, scheme, grant_id=grant_id,
                                         actor=await s.merge(cast.commissioner))
                await asyncio.sleep(0.05)  # hold the transaction open while the other tries
            return "approved"
        except FundExhausted:
            return "refused"

    outcomes = sorted(await asyncio.gather(approve(first), approve(second)))
    assert outcomes == ["approved", "refused"]
    async with db.transaction() as s:
        fund = await s.scalar(select(Fund))
        assert fund.remaining_pence == 25_000 and fund.remaining_pence >= 0


@pytest.mark.parametrize("role_name", ["ambassador", "officer", "commissioning", "deputy",
                                       "admin"])
async def test_only_the_commissioner_decides_and_refusals_are_audited(db, scheme, cast,
                                                                       role_name) -> None:
    grant_id = await recommend(db, scheme, cast.ambassador)
    async with db.transaction() as s:
        await g.do_refer_grant(s, scheme, grant_id=grant_id, actor=await s.merge(cast.commissioning))
    actor = getattr(cast, role_name)
    with pytest.raises(NotAllowed, match="Only the Commissioner can approve or reject a grant"):
        async with db.transaction() as s:
            await g.do_approve_grant(s, scheme, grant_id=grant_id, actor=await s.merge(actor))
    async with db.transaction() as s:
        refusal = await s.scalar(select(AuditEvent).where(AuditEvent.outcome == "refused"))
        assert refusal.actor_id == actor.id and refusal.action == "decide_grant"
        assert refusal.target_id == grant_id
        assert (await s.get(GrantRecommendation, grant_id)).status == "referred"


async def test_withdrawn_by_its_ambassador_only(db, scheme, cast) -> None:
    grant_id = await recommend(db, scheme, cast.ambassador)
    with pytest.raises(NotAllowed, match="belongs to someone else"):
        async with db.transaction() as s:
            await g.do_withdraw_grant(s, scheme, grant_id=grant_id,
                                      actor=await s.merge(cast.other_ambassador))
    async with db.transaction() as s:
        grant = await g.do_withdraw_grant(s, scheme, grant_id=grant_id,
                                          actor=await s.merge(cast.ambassador))
        assert grant.status == "withdrawn"


NO_WAY_TO_REACH = ("Please include a phone number (e.g. 07123 456789) or an e-mail address, "
                   "so the office can reach them.")


@pytest.mark.parametrize("contact, sentence", [
    ("Jo at the village hall", NO_WAY_TO_REACH), ("ring 123", NO_WAY_TO_REACH),
    ("👍", "Please type your contact in words; emoji or punctuation on their own can't be "
           "read by the office.")])
async def test_a_contact_the_office_cannot_reach_is_refused_whatever_the_door(
        db, scheme, cast, contact, sentence) -> None:
    """The contact rule lives in the operation: a recommendation from any app (Slack's modal,
    Telegram's form, a script) needs a phone number or an e-mail address, with the sentence
    the forms use, and nothing is recorded."""
    async with db.transaction() as s:
        with pytest.raises(InvalidInput) as refused:
            await g.do_recommend_grant(
                s, scheme, applicant_organisation="Ludlow Youth Club",
                applicant_contact=contact, project="Summer boxing sessions",
                amount_pence=75_000, objectives=[OBJECTIVE], actor=await s.merge(cast.ambassador))
    assert refused.value.sentence == sentence
    assert refused.value.field == "applicant contact"
    assert await count(db, GrantRecommendation) == 0
