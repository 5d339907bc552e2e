"""Build a report from the database to a file: the one path the command line, Slack and
e-mail all use."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from scheduler.reports.render import (ReportContext, annual_html, grants_html, panel_html,
                                      write)
from storage.db import Database
from storage.models import utcnow
from storage.reports.figures import period_figures
from storage.reports.grants_register import CSV_HEADER, csv_rows, grants_decided
from storage.reports.periods import Period, previous_quarter, quarters_in
from storage.scheme import Scheme


def context(scheme: Scheme, now: dt.datetime | None = None) -> ReportContext:
    return ReportContext(scheme_name=scheme.name, office=scheme.office,
                         commissioner_title=scheme.commissioner_title,
                         generated=(now or utcnow()).astimezone(scheme.tz).date())


async def panel_report_html(db: Database, scheme: Scheme, quarter: Period, *,
                            media_dir: Path | None = None) -> str:
    async with db.transaction() as session:
        figures = await period_figures(session, scheme, quarter)
        previous = await period_figures(session, scheme, previous_quarter(quarter))
    return panel_html(figures, previous, context(scheme), media_dir)


async def annual_report_html(db: Database, scheme: Scheme, year: Period, *,
                             media_dir: Path | None = None) -> str:
    async with db.transaction() as session:
        figures = await period_figures(session, scheme, year)
        quarters = [await period_figures(session, scheme, q) for q in quarters_in(year)]
    return annual_html(figures, quarters, context(scheme), media_dir)


async def write_panel_report(db: Database, scheme: Scheme, quarter: Period, out: Path, *,
                             media_dir: Path | None = None) -> Path:
    return write(await panel_report_html(db, scheme, quarter, media_dir=media_dir), out)


async def write_annual_report(db: Database, scheme: Scheme, year: Period, out: Path, *,
                              media_dir: Path | None = None) -> Path:
    return write(await annual_report_html(db, scheme, year, media_dir=media_dir), out)


async def grants_register_html(db: Database, scheme: Scheme, year: Period, *,
                               all_decisions: bool = False) -> str:
    async with db.transaction() as session:
        rows = await grants_decided(session, scheme, year, all_decisions=all_decisions)
    return grants_html(rows, year, context(scheme), all_decisions)


async def write_grants_register(db: Database, scheme: Scheme, year: Period, out_dir: Path, *,
                                all_decisions: bool = False) -> tuple[list[Path], int]:
    """`grants-YEAR.csv` and `grants-YEAR.html` in `out_dir`; returns the files and rows."""
    async with db.transaction() as session:
        rows = await grants_decided(session, scheme, year, all_decisions=all_decisions)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"grants-{year.key}"
    csv_path = stem.with_suffix(".csv")
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        writer.writerows(csv_rows(rows))
    html_path = write(grants_html(rows, year, context(scheme), all_decisions),
                      stem.with_suffix(".html"))
    return [csv_path, html_path], len(rows)


async def email_report(db: Database, scheme: Scheme, pdf: Path, title: str) -> int:
    """Queue the written PDF to the scheme's report addresses (the command line's --email);
    the running bot's dispatcher sends it. Returns how many addresses."""
    from storage.operations.people import cli_admin
    from storage.reports.delivery import do_email_report

    text = (f"{title}\n\nThe report is attached as a PDF. It names no member of the "
            f"public.\n\n{scheme.office}")
    async with db.transaction() as session:
        return await do_email_report(session, scheme, title=title, text=text, html=None,
                                     pdf_path=str(pdf.resolve()),
                                     actor=await cli_admin(session))
