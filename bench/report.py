"""`python -m bench report [--quick | --smoke]`: the quarterly panel report as history grows.

Data: the digest bench's (bench/digest.py): the Essex scheme's 14 districts, 200 engagements a
week for as many weeks as it takes to reach 10k, 100k and 1M engagements, with feedback,
groups, topics, follow-ups, photos, hours and grants in the same proportions. The report is
for 2026-Q3, the last complete quarter before the data's end, so every size has the same
quarter's volume (about 2,600 engagements) and ten times the history each step.

Measured in interleaved rounds, each size per round, the order rotating:

- figures: `storage.reports.figures.period_figures` for the quarter and the quarter before
  (every sum of the report);
- pdf: the whole report, from the database to PDF bytes (figures, the chart, Jinja2,
  WeasyPrint).

Targets: the PDF in ≤ 10 s at 1M engagements, and ≤ 3× the time for 10× the history. Last line:
`report: <ratio> PDF time at <largest>/<ten times fewer> engagements, round by round (SQLite);
<s> at <largest>`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time

from bench.common import median_range, pairwise_ratios
from bench.digest import SCHEME, sized_databases
from scheduler.reports.build import panel_report_html
from scheduler.reports.render import html_to_pdf
from storage.db import Database
from storage.reports.figures import period_figures
from storage.reports.periods import parse_quarter, previous_quarter

QUARTER = parse_quarter("2026-Q3")
SIZES = {"default": ([10_000, 100_000, 1_000_000], 5), "quick": ([10_000, 100_000], 3),
         "smoke": ([2_000, 20_000], 1)}
TARGET_SECONDS, TARGET_SCALING = 10.0, 3.0


async def _figures(db: Database) -> None:
    async with db.transaction() as session:
        await period_figures(session, SCHEME, QUARTER)
        await period_figures(session, SCHEME, previous_quarter(QUARTER))


async def _pdf(db: Database) -> int:
    html = await panel_report_html(db, SCHEME, QUARTER)
    return len(html_to_pdf(html))


async def _measure(databases: dict[int, Database], rounds: int
                   ) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    work = [(count, variant) for count in databases for variant in ("figures", "pdf")]
    for count, variant in work:                    # warm caches, fonts and statement caches
        await (_figures if variant == "figures" else _pdf)(databases[count])
    times: dict[str, dict[int, list[float]]] = {"figures": {c: [] for c in databases},
                                                "pdf": {c: [] for c in databases}}
    for number in range(rounds):
        shift = number % len(work)
        for count, variant in work[shift:] + work[:shift]:
            began = time.perf_counter()
            await (_figures if variant == "figures" else _pdf)(databases[count])
            times[variant][count].append(time.perf_counter() - began)
    return times["figures"], times["pdf"]


async def _main(sizes: list[int], rounds: int) -> tuple[dict[int, list[float]], float]:
    pg = os.environ.get("DATABASE_URL_PG")
    results: dict[int, list[float]] = {}
    scaling = float("nan")
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        for dialect in ("sqlite", "postgresql"):
            if dialect == "postgresql" and not pg:
                continue
            async with sized_databases(tmp, dialect, sizes, "report", pg) as databases:
                figures, pdfs = await _measure(databases, rounds)
            for count in sizes:
                print(f"  {dialect} {count:>9,}: figures {median_range([t * 1000 for t in figures[count]])} ms, "
                      f"PDF {median_range(pdfs[count])} s")
            for small, big in zip(sizes, sizes[1:]):
                ratios = pairwise_ratios(pdfs[big], pdfs[small])
                fig = pairwise_ratios(figures[big], figures[small])
                print(f"  {dialect}: {big:,} vs {small:,} engagements: PDF {median_range(ratios)}×, "
                      f"figures {median_range(fig)}× the time, round by round "
                      f"(target ≤ {TARGET_SCALING:g}×)")
                if dialect == "sqlite" and big == sizes[-1]:
                    scaling = statistics.median(ratios)
            if dialect == "sqlite":
                results = pdfs
    return results, scaling


def main(argv: list[str]) -> None:
    mode = "smoke" if "--smoke" in argv else "quick" if "--quick" in argv else "default"
    sizes, rounds = SIZES[mode]
    print(f"report benchmark ({mode}): the {QUARTER.key} panel report over a growing history, "
          f"{rounds} interleaved rounds; python {sys.version.split()[0]}; PostgreSQL "
          f"{'on' if os.environ.get('DATABASE_URL_PG') else 'off (set DATABASE_URL_PG)'}",
          flush=True)
    pdfs, scaling = asyncio.run(_main(sizes, rounds))
    largest = sizes[-1]
    at_largest = statistics.median(pdfs[largest])
    print(f"report: {scaling:.2f} PDF time at {largest:,}/{sizes[-2]:,} engagements, round by "
          f"round (SQLite; target ≤ {TARGET_SCALING:g}); {at_largest:.2f} s at {largest:,} "
          f"(target ≤ {TARGET_SECONDS:g} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
