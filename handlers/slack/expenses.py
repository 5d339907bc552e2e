"""Expense claims in Slack: the office's post (the receipt under it, Approve / Query / Reject
while it waits), the reason modal for Query and Reject, and the App Home's list of claims
waiting for a decision and approved claims to pay, with "Mark paid"."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from handlers.slack.blocks import (actions, button, confirm, context, esc, fields, header,
                                   message, sections)
from handlers.slack.modals import reason_modal
from storage.models import ExpenseClaim
from storage.parsers import format_date, format_money

EXPENSE_APPROVE, EXPENSE_QUERY, EXPENSE_REJECT = ("expense_approve", "expense_query",
                                                  "expense_reject")
EXPENSES_MARK_PAID = "expenses_mark_paid"
EXPENSE_REASON = "expense_reason"
SHOWN = 12
STATUS = {"submitted": "Waiting for a decision", "queried": "Queried — waiting for the "
          "ambassador's correction", "approved": "Approved — to be paid",
          "rejected": "Not approved", "paid": "Paid"}
STEPS = {"query": {"title": "Query the claim", "label": "What should the ambassador correct "
                   "or explain? (they are told)", "submit": "Send query"},
         "reject": {"title": "Reject the claim", "label": "Why is it not approved? (the "
                    "ambassador is told)", "submit": "Reject"}}


def _receipt_file(payload: dict[str, Any]) -> dict[str, Any] | None:
    path = payload.get("safe_path")
    if not path:
        return None
    return {"path": path, "filename": os.path.basename(str(path)) or "receipt.jpg",
            "title": f"Receipt for expense claim #{payload.get('expense_id', '?')}",
            "alt_text": f"Receipt from {payload.get('ambassador', '')}"[:1000]}


def expense_claimed(payload: dict[str, Any], tz: str = "Europe/London") -> dict[str, Any]:
    """The claim as the office sees it; buttons only while it waits for a decision. The
    receipt goes under a new post (a rewrite shows the decision, never a stale button)."""
    status = payload.get("status") or "submitted"
    amount = esc(payload.get("amount") or format_money(int(payload.get("amount_pence") or 0)))
    pairs = [("Amount", amount), ("Kind", esc(str(payload.get("kind", "")).capitalize())),
             ("Ambassador", esc(payload.get("ambassador"))), ("Status", STATUS.get(status, ""))]
    if payload.get("incurred_on"):
        pairs.insert(2, ("Date", format_date(dt.date.fromisoformat(payload["incurred_on"]))))
    if payload.get("miles_tenths"):
        pairs.append(("Miles", f"{payload['miles_tenths'] / 10:g}"))
    blocks = [header(f"🧾 Expense claim from {payload.get('ambassador', '')}"), *fields(pairs)]
    if payload.get("description"):
        blocks += sections(f"*What for*\n{esc(payload['description'])}")
    if payload.get("reason") and status in ("queried", "rejected"):
        blocks += sections(f"*{'Query' if status == 'queried' else 'Reason'}*\n"
                           f"{esc(payload['reason'])}")
    if payload.get("line"):
        blocks.append(context(esc(payload["line"])))
    has_receipt = bool(payload.get("safe_path"))
    blocks.append(context(f"Expense claim #{payload.get('expense_id', '?')}"
                          + (" · receipt below" if has_receipt else " · no receipt")))
    if status == "submitted":
        value = str(payload.get("expense_id"))
        blocks.append(actions(f"expense:{value}", [
            button("Approve", EXPENSE_APPROVE, value, "primary"),
            button("Query", EXPENSE_QUERY, value),
            button("Reject", EXPENSE_REJECT, value, "danger")]))
    rendered = message(payload.get("text", ""), blocks)
    file = _receipt_file(payload)
    if file:
        rendered["file"] = file
    return rendered


def expense_news(payload: dict[str, Any], tz: str = "Europe/London") -> dict[str, Any]:
    return message(payload.get("text", ""), sections(f"🧾 {esc(payload.get('text', ''))}"))


def reason_view(step: str, claim_id: int, summary: str, where: dict[str, Any]
                ) -> dict[str, Any]:
    return reason_modal(STEPS[step], summary, EXPENSE_REASON,
                        {"step": step, "claim_id": claim_id, **where})


def _claim_line(claim: ExpenseClaim, name: str) -> str:
    return (f"• #{claim.id} {format_money(claim.amount_pence)} {esc(claim.kind)} — {esc(name)}, "
            f"{format_date(claim.incurred_on)}: {esc(claim.description[:80])}")


def _lines(claims: list[tuple[ExpenseClaim, str]]) -> str:
    shown = [_claim_line(c, n) for c, n in claims[:SHOWN]]
    if len(claims) > SHOWN:
        shown.append(f"• …and {len(claims) - SHOWN} more")
    return "\n".join(shown) or "• none"


def home_blocks(undecided: list[tuple[ExpenseClaim, str]],
                to_pay: list[tuple[ExpenseClaim, str]], as_of: dt.datetime,
                can_pay: bool) -> list[dict[str, Any]]:
    """The office's App Home section: claims waiting, and the batch to pay."""
    blocks = sections(f"*Expense claims waiting for a decision* ({len(undecided)})\n"
                      + _lines(undecided))
    total = sum(c.amount_pence for c, _ in to_pay)
    blocks += sections(f"*Approved, to pay* ({len(to_pay)}, {format_money(total)})\n"
                       + _lines(to_pay))
    if to_pay and can_pay:
        blocks.append(actions("expenses_pay", [button(
            f"Mark paid ({len(to_pay)})", EXPENSES_MARK_PAID, as_of.isoformat(), "primary",
            confirm=confirm("Mark paid?", f"Mark the {len(to_pay)} approved claims "
                            f"({format_money(total)}) as paid? Each ambassador is told.",
                            "Mark paid"))]))
    return blocks
