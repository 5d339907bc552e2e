"""Hours counted once (time given with feedback is the engagement's one hours entry, counted
in the monthly summary and editable), and the finance statement: the fee due pro rata from the
start date, approved expenses to pay, hours against the commitment, as CSV and XLSX."""

from __future__ import annotations

import csv
import datetime as dt
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from storage.errors import Conflict, InvalidInput
from storage.finance.sheets import write_statement
from storage.finance.statement import build_statement, fee_due, parse_month, period_of
from storage.models import HoursEntry, Outbox, Person
from storage.operations import engagements, expenses, feedback, hours, reminders
from storage.reports.periods import parse_quarter
from storage.scheme import SCHEMES_DIR, SchemeError, parse_scheme
from tests.storage.seed import NOW, Cast


@pytest.fixture
async def cast(db, scheme) -> Cast:
    return await Cast.create(db, scheme)


async def held(db, scheme, cast, title: str, starts: dt.datetime) -> int:
    async with db.transaction() as s:
        e = await engagements.do_prenotify_engagement(
            s, scheme, title=title, kind="Parish council meeting", place="Hall",
            starts_at=starts, ends_at=starts + dt.timedelta(hours=2), after_the_fact=True,
            actor=await s.merge(cast.ambassador), now=NOW)
        return e.id


async def test_time_given_with_feedback_is_counted_once_in_the_monthly_summary(
        db, scheme, cast) -> None:
    engagement = await held(db, scheme, cast, "Clun parish council",
                            dt.datetime(2026, 11, 10, 19, tzinfo=dt.UTC))
    async with db.transaction() as s:
        ann = await s.merge(cast.ambassador)
        await feedback.do_file_feedback(s, scheme, engagement_id=engagement, attendees=12,
                                        summary="Speeding", minutes_spent=150, actor=ann,
                                        now=NOW)
        await hours.do_log_hours(s, worked_on=dt.date(2026, 11, 12), minutes=60,
                                 description="Emails", actor=ann, today=NOW.date())
    async with db.transaction() as s:
        ann = await s.merge(cast.ambassador)
        with pytest.raises(Conflict, match="already logged; change it from /mine"):
            await hours.do_log_hours(s, worked_on=dt.date(2026, 11, 10), minutes=150,
                                     engagement_id=engagement, actor=ann, today=NOW.date())
    async with db.transaction() as s:
        entries = (await s.scalars(select(HoursEntry).order_by(HoursEntry.id))).all()
        assert [(e.minutes, e.engagement_id, e.worked_on) for e in entries] == [
            (150, engagement, dt.date(2026, 11, 10)), (60, None, dt.date(2026, 11, 12))]
        assert await hours.minutes_in_month(s, cast.ambassador.id, 2026, 11) == 210
        # corrected from /mine: the same entry, never a second one
        with pytest.raises(InvalidInput, match="between 1 minute and 24 hours"):
            await hours.do_change_hours(s, entry_id=entries[0].id, minutes=0,
                                        actor=await s.merge(cast.ambassador))
        await hours.do_change_hours(s, entry_id=entries[0].id, minutes=120,
                                    actor=await s.merge(cast.ambassador))
    async with db.transaction() as s:
        sent = await reminders.do_send_hours_summaries(
            s, scheme, now=dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC))
        ann_summary = [o for o in sent if o.destination == str(cast.ambassador.telegram_id)]
    assert len(ann_summary) == 1
    assert "In November 2026 you logged 3h of your 40h" in ann_summary[0].payload["text"]


def test_the_fee_is_due_pro_rata_from_the_start_date(scheme) -> None:
    """£6,000 a year paid monthly is £500 a month; starting on 16 November (15 of 30 days)
    makes November £250; a quarter (July to September) is £1,500."""
    november = parse_month("2026-11")
    assert fee_due(scheme, november, dt.date(2025, 1, 1)) == 50_000
    assert fee_due(scheme, november, dt.date(2026, 11, 16)) == 25_000
    assert fee_due(scheme, november, dt.date(2026, 12, 1)) == 0
    assert fee_due(scheme, parse_quarter("2026-Q3"), dt.date(2025, 1, 1)) == 150_000
    quarterly = scheme.model_copy(update={"finance": scheme.finance.model_copy(
        update={"fee_every": "quarter", "fee_pence": 150_000})})
    assert fee_due(quarterly, november, dt.date(2025, 1, 1)) == 0       # due in December
    assert fee_due(quarterly, parse_month("2026-12"), dt.date(2026, 11, 16)) == 75_000
    for bad in ("2026-13", "November"):
        with pytest.raises(InvalidInput, match="write it like 2026-11"):
            parse_month(bad)
    with pytest.raises(InvalidInput, match="either --month"):
        period_of(None, None)


async def test_the_statement_as_csv_and_xlsx_for_the_finance_team(db, scheme, cast,
                                                                  tmp_path) -> None:
    async with db.transaction() as s:
        ann = await s.merge(cast.ambassador)
        made = await expenses.do_claim_expense(
            s, scheme, kind="travel", amount_pence=1240, incurred_on=dt.date(2026, 11, 20),
            description="Train to Ludlow", receipt_path="/safe/r.jpg", actor=ann,
            today=NOW.date())
        other = await expenses.do_claim_expense(
            s, scheme, kind="mileage", amount_pence=None, miles_tenths=100,
            incurred_on=dt.date(2026, 11, 21), description="To Clun", actor=ann,
            today=NOW.date())
        await hours.do_log_hours(s, worked_on=dt.date(2026, 11, 3), minutes=90, actor=ann,
                                 today=NOW.date())
    async with db.transaction() as s:
        # when they started (merging the cast's copies again would undo this)
        await s.execute(update(Person).where(Person.id == cast.other_ambassador.id)
                        .values(created_at=dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC)))
        await s.execute(update(Person).where(Person.id == cast.ambassador.id)
                        .values(created_at=dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)))
    async with db.transaction() as s:
        officer = await s.merge(cast.officer)
        await expenses.do_approve_expense(s, scheme, claim_id=made.id, actor=officer, now=NOW)
        await expenses.do_query_expense(s, scheme, claim_id=other.id, reason="Where?",
                                        actor=officer, now=NOW)
        statement = await build_statement(s, scheme, parse_month("2026-11"),
                                          actor=await s.merge(cast.admin))
    csv_path, xlsx_path = write_statement(statement, tmp_path)
    rows = list(csv.reader(csv_path.open(encoding="utf-8")))
    assert rows[0] == ["Ambassador", "Area", "Started", "Fee due", "Expenses to pay",
                       "Total to pay", "Hours logged", "Hours committed"]
    assert rows[1:] == [
        ["Ann Shropshire", "Shropshire", "2026-01-05", "500.00", "12.40", "512.40", "1.5",
         "40.0"],
        ["Bob Hereford", "Herefordshire", "2026-11-16", "250.00", "0.00", "250.00", "0.0",
         "40.0"],
        ["Total", "", "", "750.00", "12.40", "762.40", "1.5", "80.0"]]
    book = load_workbook(xlsx_path)
    sheet = book["Statement"]
    assert [c.value for c in sheet[1]] == rows[0]
    fee, started = sheet["D2"], sheet["C2"]
    assert float(fee.value) == 500 and "£" in fee.number_format
    assert started.is_date and started.value.date() == dt.date(2026, 1, 5)
    assert sheet["A4"].value == "Total" and sheet["A4"].font.bold
    claims = book["Claims"]
    assert [c.value for c in claims[2]][:4] == [made.id, "Ann Shropshire",
                                                 dt.datetime(2026, 11, 20), "Travel"]
    assert claims.max_row == 2                       # the queried claim is not to pay
    async with db.transaction() as s:
        assert await s.scalar(select(Outbox.id).where(Outbox.event == "expense_news")) \
            is not None


@pytest.mark.parametrize("old,new,key", [
    ("fee_every: month", "fee_every: weekly", "finance.fee_every"),
    ('financial_year_starts: "04-01"', 'financial_year_starts: "31-04"',
     "finance.financial_year_starts: write the day as MM-DD"),
    ('travel: {limit: "£150", receipt: true}', 'travel: {limit: "£0", receipt: true}',
     "finance.expense_kinds.travel.limit: The amount can't be £0"),
])
def test_a_bad_finance_setting_stops_start_up_naming_the_key(old, new, key) -> None:
    text = SCHEMES_DIR.joinpath("west-mercia.yaml").read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(SchemeError, match=rf"s\.yaml line \d+: {re.escape(key)}"):
        parse_scheme(text.replace(old, new), "s.yaml")
