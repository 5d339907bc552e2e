"""The grants register for publication (Elected Local Policing Bodies (Specified Information)
Order 2011): each grant decided in a period — date of decision, recipient organisation,
amount, purpose, plan objectives, area, decision. No ambassador, contact or decider is named.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (Area, GrantObjective, GrantRecommendation, GrantStatus,
                            PlanObjective)
from storage.reports.periods import Period
from storage.scheme import Scheme

DECISIONS = {GrantStatus.APPROVED.value: "Approved", GrantStatus.REJECTED.value: "Not approved"}
CSV_HEADER = ["Date of decision", "Recipient organisation", "Amount (£)", "Purpose",
              "Plan objectives", "Area", "Decision"]


async def grants_decided(session: AsyncSession, scheme: Scheme, period: Period, *,
                         all_decisions: bool = False) -> list[dict[str, Any]]:
    """Grants whose decision falls in the period (the scheme's days), oldest first: approved
    ones, and with `all_decisions` the ones not approved too."""
    g = GrantRecommendation
    statuses = [GrantStatus.APPROVED.value] + ([GrantStatus.REJECTED.value]
                                               if all_decisions else [])
    tz = scheme.tz
    rows = (await session.execute(
        select(g.id, g.decided_at, g.applicant_organisation, g.amount_pence, g.project,
               g.status, Area.name)
        .join(Area, Area.id == g.area_id)
        .where(g.decided_at >= period.start(tz), g.decided_at < period.end(tz),
               g.status.in_(statuses))
        .order_by(g.decided_at, g.id))).all()
    objectives: dict[int, list[str]] = {}
    if rows:
        for grant_id, name in (await session.execute(
                select(GrantObjective.grant_id, PlanObjective.name)
                .join(PlanObjective, PlanObjective.id == GrantObjective.objective_id)
                .where(GrantObjective.grant_id.in_([r[0] for r in rows]))
                .order_by(PlanObjective.id))).all():
            objectives.setdefault(grant_id, []).append(name)
    return [{"id": gid, "decided_on": decided.astimezone(tz).date(), "recipient": org,
             "amount_pence": int(pence), "purpose": project,
             "objectives": objectives.get(gid, []), "area": area,
             "decision": DECISIONS[status]}
            for gid, decided, org, pence, project, status, area in rows]


def _text(value: str) -> str:
    # A spreadsheet opening the published CSV shows what was typed; it does not run it.
    return "'" + value if value.startswith(("=", "+", "-", "@")) else value


def csv_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [[r["decided_on"].isoformat(), _text(r["recipient"]),
             f"{r['amount_pence'] / 100:.2f}", _text(r["purpose"]), "; ".join(r["objectives"]),
             r["area"], r["decision"]] for r in rows]
