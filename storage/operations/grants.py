"""Grant recommendations and the decision chain (DESIGN §1, §4, §8).

recommended → in review → referred → approved | rejected, plus info requested and withdrawn.
Every transition is a conditional UPDATE on the current status, so two people clicking at once
cannot both move it; approval moves the fund with a conditional UPDATE too, so the fund can
never go negative even when two approvals race for the last pounds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit, snapshot
from storage.errors import Conflict, FundExhausted, InvalidInput, NotFound
from storage.models import (Engagement, Fund, FundLedgerEntry, GrantRecommendation, GrantStatus,
                            Person, PlanObjective, Role, utcnow)
from storage.operations.funds import fund_for_decision, period_label
from storage.operations.people import active_people_with_role, the_fund
from storage.parsers import (clean_text, format_money, format_when, over_cap_sentence,
                             parse_contact)
from storage.permissions import Action, require
from storage.scheme import Scheme

S = GrantStatus
OPEN_FOR_SCRUTINY = (S.RECOMMENDED, S.IN_REVIEW)
UNDECIDED = (S.RECOMMENDED, S.IN_REVIEW, S.INFO_REQUESTED, S.REFERRED)
STATUS_WORDS = {S.RECOMMENDED: "recommended (waiting for the commissioning team)",
                S.IN_REVIEW: "in review by the commissioning team",
                S.INFO_REQUESTED: "waiting for more information",
                S.REFERRED: "with the Commissioner for a decision", S.APPROVED: "approved",
                S.REJECTED: "not approved", S.WITHDRAWN: "withdrawn"}


def _required(value: str | None, what: str, limit: int) -> str:
    value = clean_text(value)
    if not value:
        raise InvalidInput(f"Please give the {what}.", field=what)
    if len(value) > limit:
        raise InvalidInput(f"The {what} can be up to {limit:,} characters; yours has "
                           f"{len(value):,}. Please shorten it.", field=what)
    return value


def check_grant_amount(amount_pence: int, scheme: Scheme) -> None:
    """The cap rule, in one place: the same sentence whichever app the grant came from."""
    if amount_pence <= 0:
        raise InvalidInput("The amount must be more than £0.", field="amount")
    if amount_pence > scheme.limits.grant_cap_pence:
        raise InvalidInput(over_cap_sentence(amount_pence, scheme.limits.grant_cap_pence),
                           field="amount")


def _grant_data(grant: GrantRecommendation, fund: Fund | None = None) -> dict[str, object]:
    data: dict[str, object] = {
        "grant_id": grant.id, "status": grant.status, "amount_pence": grant.amount_pence,
        "amount": format_money(grant.amount_pence), "applicant": grant.applicant_organisation,
        "project": grant.project, "area": grant.area.name if grant.area else "",
        "ambassador": grant.ambassador.name if grant.ambassador else "",
        "objectives": [o.name for o in grant.objectives],
        "deputy_recommendation": grant.deputy_recommendation,
        "info_request": grant.info_request, "decision_reason": grant.decision_reason}
    if fund is not None:
        data["fund_remaining_pence"] = fund.remaining_pence
        data["fund_remaining"] = format_money(fund.remaining_pence)
    return data


async def do_recommend_grant(
        session: AsyncSession, scheme: Scheme, *, applicant_organisation: str,
        applicant_contact: str, project: str, amount_pence: int, objectives: Sequence[str],
        engagement_id: int | None = None, actor: Person,
        now: dt.datetime | None = None) -> GrantRecommendation:
    """An ambassador recommends a grant of up to the cap for a community project."""
    require(actor, Action.RECOMMEND_GRANT, target_type="grant_recommendations")
    now = now or utcnow()
    organisation = _required(applicant_organisation, "applicant organisation", 200)
    contact = _required(applicant_contact, "applicant contact", 300)
    project_text = _required(project, "project description", scheme.limits.max_text_chars)
    check_grant_amount(amount_pence, scheme)
    if not objectives:
        raise InvalidInput(f"Please choose at least one objective of the {scheme.plan_name} "
                           "that the project supports.", field="objectives")
    rows = (await session.scalars(select(PlanObjective).where(
        PlanObjective.name.in_(list(objectives)), PlanObjective.active.is_(True)))).all()
    if len(rows) != len(set(objectives)):
        raise InvalidInput(f"Please choose objectives from the {scheme.plan_name}.",
                           field="objectives")
    if engagement_id is not None:
        engagement = await session.get(Engagement, engagement_id)
        if engagement is None or engagement.ambassador_id != actor.id:
            raise InvalidInput("Please pick one of your own engagements.", field="engagement")
    if actor.area_id is None:
        raise InvalidInput("Your account has no area yet; please ask the office to set it.")
    try:
        # Here, not only in the forms, so that no door (Telegram, Slack, whatever comes next)
        # can leave the office with a contact it cannot reach.
        contact = parse_contact(contact, max_chars=300)
    except InvalidInput as refusal:
        raise InvalidInput(refusal.sentence, field="applicant contact") from None
    grant = GrantRecommendation(
        ambassador_id=actor.id, area_id=actor.area_id, engagement_id=engagement_id,
        applicant_organisation=organisation, applicant_contact=contact, project=project_text,
        amount_pence=amount_pence, status=S.RECOMMENDED.value, objectives=list(rows),
        created_at=now, updated_at=now)
    session.add(grant)
    await session.flush()
    await session.refresh(grant, ["area", "ambassador"])
    audit(session, actor, "recommend_grant", target=grant,
          after=snapshot(grant, "applicant_organisation", "amount_pence", "status"))
    fund = await the_fund(session, scheme)
    outbox.to_channel(
        session, scheme, "grants", "grant_recommended",
        f"Grant recommended by {actor.name} ({grant.area.name}): {format_money(amount_pence)} "
        f"to {organisation} for {project_text[:200]}",
        data=_grant_data(grant, fund), ref=f"grant:{grant.id}:grants")
    return grant


async def get_grant(session: AsyncSession, grant_id: int) -> GrantRecommendation:
    grant = await session.get(GrantRecommendation, grant_id)
    if grant is None:
        raise NotFound("That grant recommendation no longer exists.")
    return grant


async def _decided_sentence(session: AsyncSession, grant: GrantRecommendation) -> str:
    who = await session.get(Person, grant.decided_by_id) if grant.decided_by_id else None
    when = f" on {grant.decided_at:%d %B %Y}" if grant.decided_at else ""
    by = f" by {who.name}" if who else ""
    return f"This grant was already {STATUS_WORDS[S(grant.status)]}{by}{when}."


async def _transition(session: AsyncSession, grant: GrantRecommendation,
                      allowed_from: Sequence[GrantStatus], to: GrantStatus,
                      **values: object) -> None:
    """Move status only if it is still one of `allowed_from` — race-safe on both databases."""
    result = await session.execute(
        update(GrantRecommendation)
        .where(GrantRecommendation.id == grant.id,
               GrantRecommendation.status.in_([s.value for s in allowed_from]))
        .values(status=to.value, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False))
    await session.refresh(grant)
    if result.rowcount != 1:
        if grant.status in (S.APPROVED, S.REJECTED, S.WITHDRAWN):
            raise Conflict(await _decided_sentence(session, grant))
        raise Conflict(f"This grant is {STATUS_WORDS[S(grant.status)]}, so that can't be done "
                       "now.")


async def _after_change(session: AsyncSession, scheme: Scheme, grant: GrantRecommendation,
                        actor: Person, action: str, before: str, line: str,
                        tell_ambassador: str | None = None, reason: str | None = None) -> None:
    fund = await the_fund(session, scheme)
    audit(session, actor, action, target=grant, before={"status": before},
          after={"status": grant.status}, reason=reason)
    data = {**_grant_data(grant, fund), "by": actor.name, "line": line}
    outbox.to_channel(session, scheme, "grants", "grant_updated",
                      f"Grant #{grant.id} ({format_money(grant.amount_pence)} to "
                      f"{grant.applicant_organisation}): {line}",
                      data=data, replaces_ref=f"grant:{grant.id}:grants")
    if tell_ambassador:
        ambassador = await session.get(Person, grant.ambassador_id)
        if ambassador is not None:
            outbox.to_person(session, ambassador, "grant_news", tell_ambassador, data=data)


async def do_start_grant_review(session: AsyncSession, scheme: Scheme, *, grant_id: int,
                                actor: Person) -> GrantRecommendation:
    require(actor, Action.SCRUTINISE_GRANT, target_type="grant_recommendations",
            target_id=grant_id)
    grant = await get_grant(session, grant_id)
    before = grant.status
    await _transition(session, grant, (S.RECOMMENDED,), S.IN_REVIEW, scrutinised_by_id=actor.id)
    await _after_change(session, scheme, grant, actor, "start_grant_review", before,
                        f"taken into review by {actor.name}")
    return grant


async def do_request_grant_info(session: AsyncSession, scheme: Scheme, *, grant_id: int,
                                question: str, actor: Person) -> GrantRecommendation:
    require(actor, Action.SCRUTINISE_GRANT, target_type="grant_recommendations",
            target_id=grant_id)
    question = _required(question, "question for the ambassador", 2000)
    grant = await get_grant(session, grant_id)
    before = grant.status
    await _transition(session, grant, OPEN_FOR_SCRUTINY, S.INFO_REQUESTED,
                      info_request=question, scrutinised_by_id=actor.id)
    await _after_change(session, scheme, grant, actor, "request_grant_info", before,
                        f"more information asked for by {actor.name}: {question}",
                        tell_ambassador=(f"The commissioning team asks about your grant "
                                         f"recommendation for {grant.applicant_organisation}: "
                                         f"{question}"), reason=question)
    return grant


async def do_answer_grant_info(session: AsyncSession, scheme: Scheme, *, grant_id: int,
                               answer: str, actor: Person) -> GrantRecommendation:
    grant = await get_grant(session, grant_id)
    require(actor, Action.RECOMMEND_GRANT, target_type="grant_recommendations",
            target_id=grant_id, owner_id=grant.ambassador_id)
    answer = _required(answer, "answer", scheme.limits.max_text_chars)
    before = grant.status
    thread = f"{grant.info_request or ''}\nAnswer from {actor.name}: {answer}".strip()
    await _transition(session, grant, (S.INFO_REQUESTED,), S.IN_REVIEW, info_request=thread)
    await _after_change(session, scheme, grant, actor, "answer_grant_info", before,
                        f"{actor.name} answered: {answer}")
    return grant


async def do_add_deputy_recommendation(session: AsyncSession, scheme: Scheme, *, grant_id: int,
                                       recommendation: str,
                                       actor: Person) -> GrantRecommendation:
    """The deputy's view, added before referral so the Commissioner sees it with the grant."""
    require(actor, Action.ADD_DEPUTY_RECOMMENDATION, target_type="grant_recommendations",
            target_id=grant_id)
    text = _required(recommendation, "recommendation", 2000)
    grant = await get_grant(session, grant_id)
    before = grant.status
    target = S.IN_REVIEW if grant.status == S.RECOMMENDED else S(grant.status)
    await _transition(session, grant, (S.RECOMMENDED, S.IN_REVIEW, S.INFO_REQUESTED), target,
                      deputy_recommendation=text)
    await _after_change(session, scheme, grant, actor, "add_deputy_recommendation", before,
                        f"the deputy recommends: {text}", reason=text)
    return grant


async def do_refer_grant(session: AsyncSession, scheme: Scheme, *, grant_id: int,
                         note: str | None = None, actor: Person) -> GrantRecommendation:
    """The commissioning team sends the grant to the Commissioner for a decision."""
    require(actor, Action.SCRUTINISE_GRANT, target_type="grant_recommendations",
            target_id=grant_id)
    grant = await get_grant(session, grant_id)
    before = grant.status
    await _transition(session, grant, OPEN_FOR_SCRUTINY, S.REFERRED, scrutinised_by_id=actor.id)
    await _after_change(session, scheme, grant, actor, "refer_grant", before,
                        f"referred to the Commissioner by {actor.name}"
                        + (f": {note.strip()}" if note and note.strip() else ""),
                        tell_ambassador=(f"Your grant recommendation for "
                                         f"{grant.applicant_organisation} has gone to the "
                                         "Commissioner for a decision."), reason=note)
    fund = await the_fund(session, scheme)
    for commissioner in await active_people_with_role(session, Role.COMMISSIONER):
        outbox.to_person(
            session, commissioner, "grant_for_decision",
            f"Grant for your decision: {format_money(grant.amount_pence)} to "
            f"{grant.applicant_organisation} ({grant.area.name}) — {grant.project[:300]}. "
            f"Fund remaining: {format_money(fund.remaining_pence)}.",
            data={**_grant_data(grant, fund), "note": note, "by": actor.name},
            ref=f"grant:{grant.id}:decision:{commissioner.id}")
    return grant


async def do_decline_grant(session: AsyncSession, scheme: Scheme, *, grant_id: int, reason: str,
                           actor: Person, now: dt.datetime | None = None) -> GrantRecommendation:
    """The commissioning team declines before referral; the reason goes to the ambassador."""
    require(actor, Action.SCRUTINISE_GRANT, target_type="grant_recommendations",
            target_id=grant_id)
    reason = _required(reason, "reason", 2000)
    grant = await get_grant(session, grant_id)
    before = grant.status
    await _transition(session, grant, (S.RECOMMENDED, S.IN_REVIEW, S.INFO_REQUESTED),
                      S.REJECTED, decided_by_id=actor.id, decided_at=now or utcnow(),
                      decision_reason=reason)
    await _after_change(session, scheme, grant, actor, "decline_grant", before,
                        f"declined by {actor.name}: {reason}",
                        tell_ambassador=(f"Your grant recommendation for "
                                         f"{grant.applicant_organisation} was not taken "
                                         f"forward: {reason}"), reason=reason)
    return grant


async def _commissioner_posts(session: AsyncSession, scheme: Scheme,
                              grant: GrantRecommendation, actor: Person, line: str) -> None:
    for commissioner in await active_people_with_role(session, Role.COMMISSIONER):
        outbox.to_person(session, commissioner, "grant_decided", line,
                         data={**_grant_data(grant), "by": actor.name, "line": line},
                         replaces_ref=f"grant:{grant.id}:decision:{commissioner.id}")


async def do_approve_grant(session: AsyncSession, scheme: Scheme, *, grant_id: int,
                           actor: Person, note: str | None = None,
                           now: dt.datetime | None = None) -> GrantRecommendation:
    """The Commissioner approves a referred grant; the fund pays for it or it is refused."""
    require(actor, Action.DECIDE_GRANT, target_type="grant_recommendations", target_id=grant_id)
    now = now or utcnow()
    grant = await get_grant(session, grant_id)
    # The fund of the period the decision falls in (refused with a sentence if none is open).
    fund = await fund_for_decision(session, scheme, now)
    before = grant.status
    await _transition(session, grant, (S.REFERRED,), S.APPROVED, decided_by_id=actor.id,
                      decided_at=now, decision_reason=(note or "").strip() or None)
    # Atomic: the row is only changed if the money is there, whoever else is approving now.
    moved = await session.execute(
        update(Fund).where(Fund.id == fund.id,
                           Fund.committed_pence + grant.amount_pence <= Fund.size_pence)
        .values(committed_pence=Fund.committed_pence + grant.amount_pence)
        .execution_options(synchronize_session=False))
    await session.refresh(fund)
    if moved.rowcount != 1:
        raise FundExhausted(f"Approving {format_money(grant.amount_pence)} would take the fund "
                            f"below zero: only {format_money(fund.remaining_pence)} remains.")
    session.add(FundLedgerEntry(fund_id=fund.id, grant_id=grant.id,
                                amount_pence=-grant.amount_pence, by_id=actor.id,
                                note=f"Grant #{grant.id} to {grant.applicant_organisation}"[:200],
                                created_at=now))
    line = (f"approved by {actor.name} on {format_when(now, scheme.timezone)}; "
            f"{period_label(fund.starts_on, fund.ends_on)} fund remaining "
            f"{format_money(fund.remaining_pence)}")
    await _after_change(session, scheme, grant, actor, "approve_grant", before, line,
                        tell_ambassador=(f"Good news: the Commissioner approved your grant "
                                         f"recommendation of {format_money(grant.amount_pence)} "
                                         f"for {grant.applicant_organisation}."), reason=note)
    await _commissioner_posts(session, scheme, grant, actor,
                              f"Approved: {format_money(grant.amount_pence)} to "
                              f"{grant.applicant_organisation} — {line}")
    return grant


async def do_reject_grant(session: AsyncSession, scheme: Scheme, *, grant_id: int, reason: str,
                          actor: Person, now: dt.datetime | None = None) -> GrantRecommendation:
    require(actor, Action.DECIDE_GRANT, target_type="grant_recommendations", target_id=grant_id)
    reason = _required(reason, "reason", 2000)
    now = now or utcnow()
    grant = await get_grant(session, grant_id)
    before = grant.status
    await _transition(session, grant, (S.REFERRED,), S.REJECTED, decided_by_id=actor.id,
                      decided_at=now, decision_reason=reason)
    line = f"rejected by {actor.name} on {format_when(now, scheme.timezone)}: {reason}"
    await _after_change(session, scheme, grant, actor, "reject_grant", before, line,
                        tell_ambassador=(f"The Commissioner did not approve your grant "
                                         f"recommendation for {grant.applicant_organisation}: "
                                         f"{reason}"), reason=reason)
    await _commissioner_posts(session, scheme, grant, actor,
                              f"Rejected: {grant.applicant_organisation} — {line}")
    return grant


async def do_withdraw_grant(session: AsyncSession, scheme: Scheme, *, grant_id: int,
                            actor: Person) -> GrantRecommendation:
    grant = await get_grant(session, grant_id)
    require(actor, Action.RECOMMEND_GRANT, target_type="grant_recommendations",
            target_id=grant_id, owner_id=grant.ambassador_id)
    before = grant.status
    await _transition(session, grant, UNDECIDED, S.WITHDRAWN)
    await _after_change(session, scheme, grant, actor, "withdraw_grant", before,
                        f"withdrawn by {actor.name}")
    return grant
