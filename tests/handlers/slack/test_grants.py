"""The grant decision chain from Slack: the commissioning team's buttons in the grants channel,
the Commissioner's Approve / Reject by DM, every decision recorded, the fund moved, the clicked
message rewritten with no stale button, and the ambassador told through the outbox."""

from __future__ import annotations

import copy

from sqlalchemy import update

from storage.models import Fund, FundLedgerEntry, GrantRecommendation, Outbox, Role
from storage.operations.people import the_fund
from tests.handlers.slack.harness import (BOB, STRANGER_ID, Office, recommend_grant,
                                          refer_grant)

SCRUTINY = ["Refer to Commissioner", "Ask for information", "Decline",
            "Add recommendation (deputy)"]


async def grant_post(office: Office) -> tuple[int, object]:
    grant_id = await recommend_grant(office)
    await office.deliver()
    post = office.last(office.channel("grants"))
    return grant_id, post


async def test_recommended_referred_approved_moves_the_fund_and_tells_the_ambassador(
        office: Office) -> None:
    """The whole chain from the office's side; each click rewrites its own message."""
    emu, cast = office.emu, office.cast
    grant_id, post = await grant_post(office)
    assert [b.text for b in emu.buttons(post)] == SCRUTINY
    assert "Ludlow Youth Club" in post.text and "£750" in post.text

    await emu.click(office.uid(Role.COMMISSIONING), post, "grant_refer")
    await emu.wait_for(lambda: not emu.buttons(office.last(office.channel("grants"))))
    rewritten = office.last(office.channel("grants"))
    assert "With the Commissioner" in str(rewritten.blocks)
    [grant] = await office.rows(GrantRecommendation)
    assert grant.status == "referred"
    told = await office.rows(Outbox, Outbox.event == "grant_news")
    assert [(o.transport, o.destination) for o in told] == [
        ("telegram", str(cast.ambassador.telegram_id))]
    assert "gone to the Commissioner" in told[0].payload["text"]

    await office.deliver()
    commissioner = office.uid(Role.COMMISSIONER)
    decision = office.last(commissioner)
    assert [b.text for b in emu.buttons(decision)] == ["Approve", "Reject"]
    stale = copy.deepcopy(decision)
    await emu.click(commissioner, decision, "grant_approve")
    await emu.wait_for(lambda: not emu.buttons(office.last(commissioner)))
    assert "Approved" in office.last(commissioner).text

    [grant] = await office.rows(GrantRecommendation)
    assert (grant.status, grant.decided_by_id) == ("approved", cast.commissioner.id)
    async with office.db.transaction() as s:
        fund = await the_fund(s, office.scheme)
        assert fund.committed_pence == 75_000
    [entry] = await office.rows(FundLedgerEntry)
    assert (entry.grant_id, entry.amount_pence) == (grant_id, -75_000)
    news = await office.rows(Outbox, Outbox.event == "grant_news", Outbox.transport == "telegram")
    assert "Good news" in news[-1].payload["text"]
    assert news[-1].destination == str(cast.ambassador.telegram_id)
    await office.deliver()
    assert office.telegram_texts(cast.ambassador)[-2:] == [
        told[0].payload["text"], news[-1].payload["text"]]  # on her phone, in order

    # The dispatcher's rewrite of the grants channel post shows the decision, no buttons.
    await office.deliver()
    channel_post = office.last(office.channel("grants"))
    assert channel_post.ts == post.ts and emu.buttons(channel_post) == []
    assert "approved by John Campion" in str(channel_post.blocks)

    # Approve again (a second device still showing the old message): says who decided.
    await emu.click(commissioner, stale, "grant_approve")
    await office.ephemeral(commissioner, "already approved by John Campion")
    async with office.db.transaction() as s:
        assert (await the_fund(s, office.scheme)).committed_pence == 75_000


async def test_each_grant_button_checks_the_role_and_audits_refusals(office: Office) -> None:
    """Only commissioning/deputy scrutinise, only the deputy adds a recommendation, only the
    Commissioner decides; a refused click says why, changes nothing and is audited."""
    emu = office.emu
    grant_id, post = await grant_post(office)
    refusals = [
        (Role.OFFICER, "grant_refer", "Only the commissioning team and the deputy"),
        (Role.COMMISSIONER, "grant_decline", "Only the commissioning team and the deputy"),
        (Role.AMBASSADOR, "grant_ask", "Only the commissioning team and the deputy"),
        (Role.COMMISSIONING, "grant_deputy", "Only the deputy can add"),
        (Role.OFFICER, "grant_deputy", "Only the deputy can add"),
    ]
    for role, action, sentence in refusals:
        await emu.click(office.uid(role), post, action)
        await office.ephemeral(office.uid(role), sentence)
    assert emu.views(office.uid(Role.COMMISSIONER)) == []
    audited = await office.refusals()
    assert [(a.action, a.actor_id, a.target_id) for a in audited] == [
        ("scrutinise_grant", office.cast.officer.id, grant_id),
        ("scrutinise_grant", office.cast.commissioner.id, grant_id),
        ("scrutinise_grant", office.cast.ambassador.id, grant_id),
        ("add_deputy_recommendation", office.cast.commissioning.id, grant_id),
        ("add_deputy_recommendation", office.cast.officer.id, grant_id)]
    [grant] = await office.rows(GrantRecommendation)
    assert grant.status == "recommended"

    # The decision buttons: only the Commissioner.
    await refer_grant(office, grant_id)
    await office.deliver()
    decision = office.last(office.uid(Role.COMMISSIONER))
    for role in (Role.COMMISSIONING, Role.DEPUTY, Role.OFFICER):
        await emu.click(office.uid(role), decision, "grant_approve")
        await office.ephemeral(office.uid(role), "Only the Commissioner can approve")
    await emu.click(office.uid(Role.DEPUTY), decision, "grant_reject")
    await office.ephemeral(office.uid(Role.DEPUTY), "Only the Commissioner can approve")
    assert len(await office.refusals("decide_grant")) == 4
    [grant] = await office.rows(GrantRecommendation)
    assert grant.status == "referred"

    # Someone the scheme doesn't know: one sentence, nothing shown, nothing changed.
    await emu.click(STRANGER_ID, decision, "grant_approve")
    await office.ephemeral(STRANGER_ID, "not part of the Community Ambassador scheme")
    assert emu.views(STRANGER_ID) == []
    [grant] = await office.rows(GrantRecommendation)
    assert grant.status == "referred"


async def test_ask_then_deputy_recommends_then_decline_with_reasons(office: Office) -> None:
    """The modals: a question for the ambassador, the deputy's view, a reason to decline."""
    emu, cast = office.emu, office.cast
    grant_id, post = await grant_post(office)
    stale = copy.deepcopy(post)
    colin = office.uid(Role.COMMISSIONING)

    await emu.click(colin, post, "grant_ask")
    modal = await emu.wait_for(lambda: emu.views(colin))
    assert modal[0].title == "Ask for information"
    answer = await emu.submit_view(colin, values={"reason": "Who else funds the sessions?"})
    assert answer.status == 200 and answer.errors == {}
    [grant] = await office.rows(GrantRecommendation)
    assert (grant.status, grant.info_request) == ("info_requested",
                                                  "Who else funds the sessions?")
    rewritten = office.last(office.channel("grants"))
    assert [b.text for b in emu.buttons(rewritten)] == ["Decline",
                                                        "Add recommendation (deputy)"]
    asked = (await office.rows(Outbox, Outbox.event == "grant_news"))[-1]
    assert "Who else funds the sessions?" in asked.payload["text"]

    dee = office.uid(Role.DEPUTY)
    await emu.click(dee, rewritten, "grant_deputy")
    await emu.wait_for(lambda: emu.views(dee))
    await emu.submit_view(dee, values={"reason": "Good value; supports the plan."})
    [grant] = await office.rows(GrantRecommendation)
    assert grant.deputy_recommendation == "Good value; supports the plan."

    await emu.click(colin, office.last(office.channel("grants")), "grant_decline")
    await emu.wait_for(lambda: emu.views(colin))
    await emu.submit_view(colin, values={"reason": "No answer after two weeks."})
    [grant] = await office.rows(GrantRecommendation)
    assert (grant.status, grant.decision_reason, grant.decided_by_id) == (
        "rejected", "No answer after two weeks.", cast.commissioning.id)
    assert emu.buttons(office.last(office.channel("grants"))) == []
    told = (await office.rows(Outbox, Outbox.event == "grant_news"))[-1]
    assert "was not taken forward: No answer after two weeks." in told.payload["text"]

    # A reason submitted for a grant decided meanwhile is refused on the field, with who.
    await emu.click(dee, stale, "grant_decline")
    await emu.wait_for(lambda: emu.views(dee))
    late = await emu.submit_view(dee, values={"reason": "Also no."})
    assert "already not approved by Colin Commissioning" in late.errors["reason"]


async def test_commissioner_rejects_with_a_reason(office: Office) -> None:
    emu = office.emu
    grant_id = await recommend_grant(office)
    await refer_grant(office, grant_id)
    await office.deliver()
    john = office.uid(Role.COMMISSIONER)
    await emu.click(john, office.last(john), "grant_reject")
    await emu.wait_for(lambda: emu.views(john))
    await emu.submit_view(john, values={"reason": "Outside the plan's priorities."})
    await emu.wait_for(lambda: not emu.buttons(office.last(john)))
    [grant] = await office.rows(GrantRecommendation)
    assert (grant.status, grant.decision_reason) == ("rejected", "Outside the plan's priorities.")
    news = (await office.rows(Outbox, Outbox.event == "grant_news"))[-1]
    assert "did not approve" in news.payload["text"] and news.transport == "telegram"


async def test_fund_exhausted_refuses_the_approval(office: Office) -> None:
    """Only £500 left: approving £750 says so, and nothing moves."""
    emu = office.emu
    grant_id = await recommend_grant(office)
    await refer_grant(office, grant_id)
    async with office.db.transaction() as s:
        fund = await the_fund(s, office.scheme)
        await s.execute(update(Fund).where(Fund.id == fund.id)
                        .values(committed_pence=fund.size_pence - 50_000))
    await office.deliver()
    john = office.uid(Role.COMMISSIONER)
    decision = office.last(john)
    await emu.click(john, decision, "grant_approve")
    await office.ephemeral(john, "would take the fund below zero: only £500 remains")
    [grant] = await office.rows(GrantRecommendation)
    assert grant.status == "referred"
    assert await office.rows(FundLedgerEntry) == []
    assert [b.text for b in emu.buttons(office.last(john))] == ["Approve", "Reject"]


async def test_forged_stale_and_retried_requests_change_nothing_twice(office: Office) -> None:
    """Bolt checks the signature and the timestamp (401, nothing runs); a retried click is
    handled once."""
    emu = office.emu
    grant_id, post = await grant_post(office)
    colin = office.uid(Role.COMMISSIONING)
    forged = await emu.click(colin, post, "grant_refer", bad_signature=True)
    stale = await emu.click(colin, post, "grant_refer", timestamp_offset=-600)
    unsigned = await emu.click(colin, post, "grant_refer", sign=False)
    assert (forged.status, stale.status, unsigned.status) == (401, 401, 401)
    [grant] = await office.rows(GrantRecommendation)
    assert grant.status == "recommended" and emu.buttons(office.last(office.channel("grants")))

    # The same click delivered twice (Slack's retry): one referral, one message to Ann.
    payload = _click_payload(emu, colin, post, "grant_refer")
    first = await emu._deliver_payload(payload)
    again = await emu._deliver_payload(payload, retry_num=1, retry_reason="http_timeout")
    assert (first.status, again.status) == (200, 200)
    await emu.wait_for(lambda: not emu.buttons(office.last(office.channel("grants"))))
    [grant] = await office.rows(GrantRecommendation)
    assert grant.status == "referred"
    assert len(await office.rows(Outbox, Outbox.event == "grant_for_decision")) == 1
    assert len(await office.rows(Outbox, Outbox.event == "grant_news")) == 1


def _click_payload(emu, user_id: str, message, action_id: str) -> dict:
    """What Slack would send for one click, built once so it can be delivered twice."""
    from bot.emulators.slack import APP_ID, TEAM_DOMAIN, TEAM_ID
    block_id, element = emu._find_element(message, action_id, None, None)
    return {"type": "block_actions", "user": emu.user(user_id).to_actor(), "api_app_id": APP_ID,
            "token": emu.verification_token, "trigger_id": emu.issue_trigger(user_id),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "enterprise": None,
            "is_enterprise_install": False,
            "actions": [emu._action(block_id, element, None, None, None)],
            **emu._message_context(emu.user(user_id), message)}


async def test_a_slack_only_ambassador_hears_the_decision_in_slack(office: Office) -> None:
    """The ambassador is told on whichever app they use: Bob has only Slack."""
    from storage.operations import grants
    emu = office.emu
    async with office.db.transaction() as s:
        grant = await grants.do_recommend_grant(
            s, office.scheme, applicant_organisation="Kington Men's Shed",
            applicant_contact="Al Price, al@example.org", project="Tools for a repair café",
            amount_pence=40_000, objectives=["Reassuring West Mercia's communities"],
            actor=await s.merge(office.cast.other_ambassador))
    await office.deliver()
    colin = office.uid(Role.COMMISSIONING)
    await emu.click(colin, office.last(office.channel("grants")), "grant_decline")
    await emu.wait_for(lambda: emu.views(colin))
    await emu.submit_view(colin, values={"reason": "Already funded by the council."})
    [told] = await office.rows(Outbox, Outbox.event == "grant_news")
    assert (told.transport, told.destination) == ("slack", BOB)
    await office.deliver()
    assert "Already funded by the council." in office.last(BOB).text
    [grant] = await office.rows(GrantRecommendation, GrantRecommendation.id == grant.id)
    assert grant.status == "rejected"
