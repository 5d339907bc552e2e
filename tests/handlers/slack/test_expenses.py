"""Expenses end to end through the real libraries: an ambassador claims on Telegram (PTB against
the Bot API emulator) with a receipt photo, the office sees the receipt under the post and
approves in Slack (signed requests through slack-bolt), the ambassador is told, the finance
statement lists the claim, the office marks it paid and the ambassador sees "paid" in /mine.
Query and correction; every action by every role; two officers approving at once."""

from __future__ import annotations

import asyncio
import copy
import csv
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.telegram.media import telegram_media_intake
from storage.media import MediaStore, PhotoProcessor
from storage.models import AuditEvent, ExpenseClaim, Role, utcnow
from storage.operations import expenses
from tests.bot.test_cli import cli
from tests.handlers.slack.harness import STRANGER_ID, Office
from tests.handlers.slack.test_home import opened
from tests.handlers.telegram.harness import Clock, RunningBot, buttons, said
from tests.handlers.telegram.test_photos import jpeg_with_gps

BUTTONS = ["Approve", "Query", "Reject"]


@pytest.fixture
async def phone(office: Office, tmp_path) -> AsyncIterator[RunningBot]:
    """Ann's phone: the real bot polling the Telegram emulator the office delivers to."""
    processor = PhotoProcessor(MediaStore(tmp_path / "phone-media"), workers=1,
                               executor="thread")
    bot = await RunningBot(office.telegram, office.db, office.scheme, Clock(utcnow()),
                           media_intake=telegram_media_intake(processor)).start()
    yield bot
    await bot.stop()
    await processor.aclose()


def url_of(office: Office) -> str:
    return office.db.engine.url.render_as_string(hide_password=False)


async def settled(office: Office, status: str, index: int = 0) -> ExpenseClaim:
    """The claim once it has reached `status` (a click is acked before its work finishes)."""
    for _ in range(250):
        claims = await office.rows(ExpenseClaim)
        if len(claims) > index and claims[index].status == status:
            return claims[index]
        await asyncio.sleep(0.02)
    raise AssertionError(f"the claim never became {status}: {claims[index].status}")


def claim_post(office: Office):
    """The newest post in the claims channel (not the receipt uploaded under one)."""
    return [m for m in office.emu.messages(office.channel("engagements")) if not m.files][-1]


async def posted_claim(office: Office):
    await office.deliver()
    return claim_post(office)


async def mileage_claim(office: Office, tenths: int = 200) -> int:
    async with office.db.transaction() as s:
        made = await expenses.do_claim_expense(
            s, office.scheme, kind="mileage", amount_pence=None, miles_tenths=tenths,
            incurred_on=utcnow().astimezone(office.scheme.tz).date(), description="To Clun",
            actor=await s.merge(office.cast.ambassador))
        return made.id


async def test_claim_with_receipt_approved_in_slack_statement_paid_and_seen_paid(
        office: Office, phone: RunningBot, tmp_path: Path) -> None:
    emu, cast = office.emu, office.cast
    ann = office.telegram.user(cast.ambassador.telegram_id, "Ann")
    await ann.send_command("/expenses")
    await said(ann, "What kind of expense?")
    await ann.press("Travel")
    await said(ann, "Which day?")
    await ann.press("Today")
    await said(ann, "How much?")
    await ann.send_text("£12.40")
    await said(ann, "What was it for?")
    await ann.send_text("Train to Ludlow for the parish council")
    await said(ann, "photo of the receipt")
    await ann.send_photo(jpeg_with_gps())
    await said(ann, "Received 1 so far")
    await ann.press("Done ✔")
    await said(ann, "please check")
    await ann.press("✅ Submit")
    await said(ann, "your claim of £12.40 is with the office", timeout=20)
    [claim] = await office.rows(ExpenseClaim)
    assert claim.receipt_path and claim.receipt_thumb_path   # stored safe, with a thumbnail

    # The office's post: the claim, the buttons, and the receipt under it.
    post = await posted_claim(office)
    assert "Expense claim from Ann Shropshire" in post.text and "£12.40" in str(post.blocks)
    assert [b.text for b in emu.buttons(post)] == BUTTONS
    [upload] = [m for m in emu.messages(office.channel("engagements")) if m.files]
    assert upload.thread_ts == post.ts
    assert emu.files[upload.files[0]["id"]].content == Path(claim.receipt_path).read_bytes()

    await emu.click(office.uid(Role.OFFICER), post, "expense_approve")
    await emu.wait_for(lambda: not emu.buttons(claim_post(office)))
    assert "approved by Olive Officer" in str(claim_post(office).blocks)
    await office.deliver()
    await said(ann, "was approved. It will be paid with the next batch.")

    month = utcnow().astimezone(office.scheme.tz).strftime("%Y-%m")
    made = await asyncio.to_thread(cli, url_of(office), "finance", "statement", "--month",
                                   month, "--out", str(tmp_path / "finance"))
    assert made.returncode == 0, made.stderr
    rows = list(csv.reader((tmp_path / "finance" / f"statement-{month}.csv").open()))
    [ann_row] = [r for r in rows if r[0] == "Ann Shropshire"]
    assert ann_row[4] == "12.40"

    today = utcnow().astimezone(office.scheme.tz).date().isoformat()
    paid = await asyncio.to_thread(cli, url_of(office), "finance", "mark-paid", "--through",
                                   today)
    assert paid.returncode == 0, paid.stderr
    assert "Marked 1 claim paid (£12.40)" in paid.stdout
    again = await asyncio.to_thread(cli, url_of(office), "finance", "mark-paid", "--through",
                                    today)
    assert "No approved claims waiting to be paid" in again.stdout
    await office.deliver()
    await said(ann, "has been paid.")
    await ann.send_command("/mine")
    mine = await said(ann, "Expense claims:")
    assert "£12.40 travel" in mine.text and ": paid" in mine.text


async def test_query_answered_by_correcting_the_claim_from_mine(office: Office,
                                                                phone: RunningBot) -> None:
    emu, cast = office.emu, office.cast
    ann = office.telegram.user(cast.ambassador.telegram_id, "Ann")
    await mileage_claim(office)
    post = await posted_claim(office)
    deputy = office.uid(Role.DEPUTY)
    await emu.click(deputy, post, "expense_query")
    modal = await emu.wait_for(lambda: emu.views(deputy) and emu.views(deputy)[-1])
    assert "Query the claim" in str(modal.definition)
    refused = await emu.submit_view(deputy, values={"reason": "   "})
    assert "Please give a reason" in refused.errors["reason"]
    await emu.submit_view(deputy, values={"reason": "Clun is 12 miles, not 20"})
    await emu.wait_for(lambda: not emu.buttons(claim_post(office)))
    assert "Clun is 12 miles" in str(claim_post(office).blocks)
    await office.deliver()
    await said(ann, "has a question from the office: Clun is 12 miles, not 20")

    await ann.send_command("/mine")
    mine = await said(ann, "Expense claims:")
    assert "queried by the office — “Clun is 12 miles, not 20”" in mine.text
    await ann.press(next(b for b in buttons(mine) if b.startswith("✏️ Correct claim")))
    await said(ann, "please check")
    await ann.press("✏️ Edit")
    await said(ann, "Which answer")
    await ann.press("Miles")
    await said(ann, "How many miles")
    await ann.send_text("12")
    await said(ann, "please check")
    await ann.press("✅ Submit")
    await said(ann, "your corrected claim of £5.40 is with the office again")
    [claim] = await office.rows(ExpenseClaim)
    assert (claim.status, claim.miles_tenths, claim.amount_pence) == ("submitted", 120, 540)
    again = await posted_claim(office)
    assert again.ts != post.ts and [b.text for b in emu.buttons(again)] == BUTTONS
    assert "corrected by Ann Shropshire" in str(again.blocks)


async def test_every_expense_button_by_every_role(office: Office) -> None:
    """Approve, Query, Reject and Mark paid: only officers and the deputy (and no stranger);
    everyone else is told the matrix's sentence, only them, and nothing changes."""
    emu = office.emu
    sentence = "Only engagement officers, the deputy and administrators can approve expenses."
    claim_id = await mileage_claim(office)
    post = await posted_claim(office)
    for role in (Role.AMBASSADOR, Role.COMMISSIONING, Role.COMMISSIONER):
        for action in ("expense_approve", "expense_query", "expense_reject"):
            await emu.click(office.uid(role), post, action)
            await office.ephemeral(office.uid(role), sentence)
    await emu.click(STRANGER_ID, post, "expense_approve")
    await office.ephemeral(STRANGER_ID, "not part of the Community Ambassador scheme")
    [claim] = await office.rows(ExpenseClaim)
    assert claim.status == "submitted"
    assert len(await office.refusals("approve_expenses")) == 3 * 3

    officer, deputy = office.uid(Role.OFFICER), office.uid(Role.DEPUTY)
    stale = copy.deepcopy(post)       # the deputy's screen, not yet showing the decision
    await emu.click(officer, post, "expense_reject")
    await emu.wait_for(lambda: emu.views(officer) and emu.views(officer)[-1])
    await emu.submit_view(officer, values={"reason": "Not a scheme journey"})
    claim = await settled(office, "rejected")
    assert claim.decision_reason == "Not a scheme journey"
    await emu.click(deputy, stale, "expense_approve")
    await office.ephemeral(deputy, "That claim was already rejected by Olive Officer")
    ann_home = await opened(office, office.uid(Role.AMBASSADOR))   # her claims, with status
    assert "£9 mileage" in str(ann_home.definition)
    assert "not approved — Not a scheme journey" in str(ann_home.definition)

    # Mark paid on the App Home: the officer sees the approved batch and pays it.
    second = await mileage_claim(office, 100)
    async with office.db.transaction() as s:
        await expenses.do_approve_expense(s, office.scheme, claim_id=second,
                                          actor=await s.merge(office.cast.deputy))
    home = await opened(office, officer)
    assert "Approved, to pay* (1, £4.50)" in str(home.definition)
    await emu.click(officer, home, "expenses_mark_paid")
    # From the App Home there is no channel: the sentence comes as a small modal.
    await emu.wait_for(lambda: any("Marked 1 claim paid" in str(v.definition)
                                   for v in emu.views(officer)))
    paid = await settled(office, "paid", 1)
    assert paid.paid_by_id == office.cast.officer.id
    commissioner_home = await opened(office, office.uid(Role.COMMISSIONER))
    assert "expenses_mark_paid" not in str(commissioner_home.definition)  # no button they can't use
    assert claim_id


async def test_two_officers_approving_at_once_make_one_approval(office: Office) -> None:
    emu = office.emu
    await mileage_claim(office)
    post = await posted_claim(office)
    seen_by_deputy = copy.deepcopy(post)
    await asyncio.gather(emu.click(office.uid(Role.OFFICER), post, "expense_approve"),
                         emu.click(office.uid(Role.DEPUTY), seen_by_deputy, "expense_approve"))
    claim = await settled(office, "approved")
    loser = office.uid(Role.DEPUTY if claim.decided_by_id == office.cast.officer.id
                       else Role.OFFICER)
    await office.ephemeral(loser, "That claim was already approved by")
    done = await office.rows(AuditEvent, AuditEvent.action == "approve_expense",
                             AuditEvent.outcome == "done")
    assert len(done) == 1
