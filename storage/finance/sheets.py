"""The statement as files for the finance team: a CSV (one row per ambassador, a total row)
and an XLSX workbook with the same sheet plus every claim — money as currency cells, dates as
date cells, headers in words, the total row in bold."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from storage.finance.statement import Statement

CURRENCY = '"£"#,##0.00'
DATE = "DD/MM/YYYY"
HOURS = "0.0"
SUMMARY = ["Ambassador", "Area", "Started", "Fee due", "Expenses to pay", "Total to pay",
           "Hours logged", "Hours committed"]
CLAIMS = ["Claim", "Ambassador", "Date of expense", "Kind", "What for", "Amount",
          "Approved on", "Paid on"]


def _pounds(pence: int) -> Decimal:
    return (Decimal(pence) / 100).quantize(Decimal("0.01"))


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.1"))


def summary_rows(statement: Statement) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [line.name, line.area, line.started_on, _pounds(line.fee_pence),
         _pounds(line.expenses_pence), _pounds(line.total_pence), _hours(line.minutes),
         _hours(line.commitment_minutes)] for line in statement.lines]
    lines = statement.lines
    rows.append(["Total", "", None, _pounds(sum(x.fee_pence for x in lines)),
                 _pounds(sum(x.expenses_pence for x in lines)),
                 _pounds(sum(x.total_pence for x in lines)),
                 _hours(sum(x.minutes for x in lines)),
                 _hours(sum(x.commitment_minutes for x in lines))])
    return rows


def claim_rows(statement: Statement) -> list[list[Any]]:
    return [[c.claim_id, c.ambassador, c.incurred_on, c.kind.capitalize(), c.description,
             _pounds(c.amount_pence), c.approved_on, c.paid_on] for c in statement.claims]


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_statement(statement: Statement, out: Path) -> list[Path]:
    """statement-<key>.csv and statement-<key>.xlsx in `out`; returns both paths."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    out.mkdir(parents=True, exist_ok=True)
    key = statement.period.key
    csv_path, xlsx_path = out / f"statement-{key}.csv", out / f"statement-{key}.xlsx"
    summary = summary_rows(statement)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SUMMARY)
        writer.writerows([[_csv_value(v) for v in row] for row in summary])
    book = Workbook()
    sheet = book.active
    sheet.title = "Statement"
    _fill(sheet, SUMMARY, summary, money=(4, 5, 6), dates=(3,), hours=(7, 8))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    _fill(book.create_sheet("Claims"), CLAIMS, claim_rows(statement), money=(6,),
          dates=(3, 7, 8), hours=())
    book.properties.title = f"Finance statement, {statement.period.label}"
    book.save(xlsx_path)
    return [csv_path, xlsx_path]


def _fill(sheet: Any, headers: list[str], rows: list[list[Any]], *, money: tuple[int, ...],
          dates: tuple[int, ...], hours: tuple[int, ...]) -> None:
    from openpyxl.styles import Font

    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for column, fmt in [*((c, CURRENCY) for c in money), *((c, DATE) for c in dates),
                        *((c, HOURS) for c in hours)]:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            cell.number_format = fmt
    for column, header in enumerate(headers, start=1):
        width = max([len(header)] + [len(_csv_value(r[column - 1])) for r in rows]) + 2
        sheet.column_dimensions[sheet.cell(row=1, column=column).column_letter].width = \
            min(width, 60)
    sheet.freeze_panes = "A2"
