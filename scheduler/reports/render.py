"""HTML and PDF for the panel report, the annual report and the grants register.

Templates are Jinja2 with autoescaping on (excerpts and organisation names are shown as
typed, never obeyed as markup); PDF is WeasyPrint's rendering of the same HTML, so the two
never disagree. WeasyPrint is imported only when a PDF is asked for (it loads Pango).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from scheduler.reports import charts
from storage.parsers import format_date, format_hours, format_money
from storage.reports.figures import PeriodFigures, Photo
from storage.reports.periods import Period

HERE = Path(__file__).parent

# The summary's lines: (label, figure name, money?) — the same names `PeriodFigures.total`
# reads, so the comparison with the previous quarter is the same sums as the tables.
SUMMARY = [("Engagements held", "held", False), ("Engagements cancelled", "cancelled", False),
           ("People reached", "reached", False),
           ("Engagements with outcomes recorded", "with_outcomes", False),
           ("Follow-ups raised", "follow_ups_raised", False),
           ("Follow-ups closed", "follow_ups_closed", False),
           ("Follow-ups overdue at the end", "follow_ups_overdue", False),
           ("Grants recommended", "grants_recommended", False),
           ("Grants approved", "grants_approved", False),
           ("Amount approved", "grants_approved_pence", True),
           ("Hours logged", "minutes", False),
           ("Photos approved for use", "photos_approved", False)]


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE)),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["money"] = format_money
    env.filters["hours"] = lambda minutes: format_hours(minutes) if minutes else "0h"
    env.filters["day"] = format_date
    env.filters["number"] = lambda n: f"{int(n):,}"
    return env


def _shown(value: int, name: str, money: bool) -> str:
    if money:
        return format_money(value)
    return (format_hours(value) if value else "0h") if name == "minutes" else f"{value:,}"


def _change(now: int, before: int, name: str, money: bool) -> str:
    if now == before:
        return "no change"
    return ("+" if now > before else "−") + _shown(abs(now - before), name, money)


def _summary(figures: PeriodFigures, previous: PeriodFigures) -> list[dict[str, Any]]:
    lines = []
    for label, name, money in SUMMARY:
        now, before = figures.total(name), previous.total(name)
        lines.append({"label": label, "values": [_shown(now, name, money),
                                                 _shown(before, name, money)],
                      "change": _change(now, before, name, money)})
    return lines


def _thumb(photo: Photo, media_dir: Path | None) -> str | None:
    """A thumbnail as a data URI, so the HTML file stands alone (and WeasyPrint reads no
    file the report did not mean to include)."""
    if not photo.thumb_path:
        return None
    for candidate in (Path(photo.thumb_path),
                      (media_dir / photo.thumb_path) if media_dir else None):
        if candidate is not None and candidate.is_file():
            data = base64.b64encode(candidate.read_bytes()).decode()
            return f"data:image/jpeg;base64,{data}"
    return None


def _chart(figures: PeriodFigures) -> str:
    areas = figures.areas
    return charts.area_activity_svg([a.area for a in areas],
                                    [a.activity.held for a in areas],
                                    [a.activity.cancelled for a in areas],
                                    [a.activity.reached for a in areas])


def _svg_uri(svg_text: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg_text.encode()).decode()


@dataclass
class ReportContext:
    scheme_name: str
    office: str
    commissioner_title: str
    generated: dt.date


def panel_html(figures: PeriodFigures, previous: PeriodFigures, ctx: ReportContext,
               media_dir: Path | None = None) -> str:
    """The quarterly report to the police and crime panel."""
    return environment().get_template("panel.html").render(
        title=f"Community Ambassadors: report to the police and crime panel, "
              f"{figures.period.label}",
        ctx=ctx, f=figures, previous=previous, summary=_summary(figures, previous),
        chart=_svg_uri(_chart(figures)),
        photos=[(p, _thumb(p, media_dir)) for p in figures.photos])


def annual_html(year: PeriodFigures, quarters: list[PeriodFigures], ctx: ReportContext,
                media_dir: Path | None = None) -> str:
    """The annual report: the year's sections, and the summary by quarter."""
    by_quarter = []
    for label, name, money in SUMMARY:
        values = [q.total(name) for q in quarters] + [year.total(name)]
        by_quarter.append({"label": label, "values": [_shown(v, name, money) for v in values]})
    return environment().get_template("annual.html").render(
        title=f"Community Ambassadors: annual report, {year.period.label}",
        ctx=ctx, f=year, quarters=quarters, by_quarter=by_quarter,
        chart=_svg_uri(_chart(year)),
        photos=[(p, _thumb(p, media_dir)) for p in year.photos])


def grants_html(rows: list[dict[str, Any]], period: Period, ctx: ReportContext,
                all_decisions: bool) -> str:
    return environment().get_template("grants.html").render(
        title=f"Grants made by the {ctx.commissioner_title}: {period.label}", ctx=ctx,
        rows=rows, period=period, all_decisions=all_decisions,
        total=sum(r["amount_pence"] for r in rows if r["decision"] == "Approved"))


def html_to_pdf(html: str) -> bytes:
    return _weasyprint_html()(string=html, base_url=str(HERE)).write_pdf()


@functools.cache
def _weasyprint_html() -> Any:
    """WeasyPrint's HTML, imported once, with Pillow's LOAD_TRUNCATED_IMAGES put back as it
    was: WeasyPrint switches it on for the whole process when imported, which would let the
    media pipeline (same process) take a photo that was only partly sent as a whole one.
    PDFs are drawn in worker threads: the lock keeps two first calls from reading the
    setting while the other's import has it switched on."""
    from PIL import ImageFile
    with _WEASYPRINT_IMPORT:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        from weasyprint import HTML
        ImageFile.LOAD_TRUNCATED_IMAGES = before
    return HTML


_WEASYPRINT_IMPORT = threading.Lock()


def write(html: str, out: Path) -> Path:
    """Write `out` as PDF or HTML by its suffix."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".pdf":
        out.write_bytes(html_to_pdf(html))
    else:
        out.write_text(html, encoding="utf-8")
    return out
