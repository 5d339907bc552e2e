"""The office's extracts as an office reads them: words for headers, local times as date
cells, money as currency cells, a sheet per kind of record, and each kind picked by the date
that matters for it (grants by when they were decided). On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import load_workbook

from storage.exports import EXTRACTS, extract, extract_rows, write_xlsx
from storage.models import Meeting, MeetingRsvp
from tests.scheduler.report_seed import at, seed_history
from tests.storage.seed import Cast

JULY, SEPTEMBER = dt.date(2026, 7, 1), dt.date(2026, 9, 30)


@pytest.fixture
async def history(db, scheme, tmp_path) -> Cast:
    cast = await Cast.create(db, scheme)
    await seed_history(db, scheme, cast, tmp_path)
    async with db.transaction() as s:
        meeting = Meeting(kind="quarterly", title="Quarterly meeting", place="HQ",
                          starts_at=at(9, 15, 13), ends_at=at(9, 15, 15))
        s.add(meeting)
        await s.flush()
        s.add_all([MeetingRsvp(meeting_id=meeting.id, person_id=cast.ambassador.id,
                               answer="yes"),
                   MeetingRsvp(meeting_id=meeting.id, person_id=cast.other_ambassador.id,
                               answer="no")])
    return cast


async def test_grants_are_picked_by_decision_date_with_who_decided(db, scheme, history) -> None:
    async with db.transaction() as s:
        header, rows = await extract_rows(s, scheme, "grants", JULY, SEPTEMBER)
    grants = [dict(zip(header, row)) for row in rows]
    # Recommended in June but decided in July: in. Decided 00:30 on 1 October (BST): out.
    assert [g["Applicant organisation"] for g in grants] == [
        "Much Wenlock Speed Watch", "Ludlow Youth Club", "Ledbury Scouts"]
    first = grants[0]
    assert first["Amount"] == "750.00" and first["Decided"] == "2026-07-03 11:00"
    assert first["Decided by"] == "John Campion"
    assert first["Deputy's recommendation"] == "Dee Deputy supports it"
    assert first["Status"] == "approved" and first["Engagement"] == ""


async def test_every_kind_has_words_for_headers_and_local_times(db, scheme, history,
                                                                 tmp_path) -> None:
    async with db.transaction() as s:
        tables = [await extract(s, scheme, name, JULY, SEPTEMBER) for name in EXTRACTS]
        header, rows = await extract_rows(s, scheme, "engagements", JULY, SEPTEMBER)
    for table in tables:
        for column in table.columns:
            assert "_" not in column.header and column.header[0].isupper(), column.header
    engagement = dict(zip(header, rows[0]))
    assert engagement["Starts"] == "2026-07-01 00:30"        # 23:30 UTC on 30 June, in BST
    by_name = {t.name: t for t in tables}
    assert len(by_name["follow_ups"].rows) == 4               # raised in July to September
    assert len(by_name["media"].rows) == 4
    [meeting] = by_name["meetings"].csv_rows()
    assert meeting[7:] == ["Ann Shropshire", "", "Bob Hereford"]

    write_xlsx(tables, tmp_path / "extracts.xlsx")
    book = load_workbook(tmp_path / "extracts.xlsx")
    assert book.sheetnames == ["Engagements", "Feedback", "Follow-ups", "Grants", "Hours",
                               "Expenses", "Media", "Meetings"]
    sheet = book["Engagements"]
    assert sheet["G1"].value == "Starts"
    assert sheet["G2"].value == dt.datetime(2026, 7, 1, 0, 30)
    assert sheet["G2"].number_format == "yyyy-mm-dd hh:mm"
    grants = book["Grants"]
    assert grants["H1"].value == "Amount"
    assert grants["H2"].value == 750 and grants["H2"].number_format == '"£"#,##0.00'
    hours = book["Hours"]
    assert hours["C2"].value == dt.datetime(2026, 7, 1)        # a date cell
    assert hours["D2"].value == 10                             # 600 minutes


async def test_typed_text_that_looks_like_a_formula_stays_text(db, scheme, history,
                                                               tmp_path) -> None:
    from sqlalchemy import update

    from storage.models import GrantRecommendation
    async with db.transaction() as s:
        await s.execute(update(GrantRecommendation).where(
            GrantRecommendation.applicant_organisation == "Ludlow Youth Club")
            .values(applicant_organisation='=HYPERLINK("http://x.example","Ludlow")'))
        table = await extract(s, scheme, "grants", JULY, SEPTEMBER)
    cells = [row[4] for row in table.csv_rows()]
    assert "'=HYPERLINK(\"http://x.example\",\"Ludlow\")" in cells
    write_xlsx([table], tmp_path / "x.xlsx")
    cell = load_workbook(tmp_path / "x.xlsx")["Grants"]["E3"]
    assert cell.value == '=HYPERLINK("http://x.example","Ludlow")' and cell.data_type == "s"
