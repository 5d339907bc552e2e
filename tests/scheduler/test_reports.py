"""The panel, annual and grants reports from a seeded history, on SQLite and PostgreSQL:
figures checked against direct reads of the records, the PDF read back as text (pdftotext)
for its sections and figures, and no member of the public named anywhere."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from scheduler.reports.build import (annual_report_html, write_annual_report,
                                     write_grants_register, write_panel_report)
from storage.models import (Engagement, Feedback, FeedbackGroup, FollowUp, GrantRecommendation,
                            HoursEntry, Media, Person)
from storage.reports.figures import period_figures
from storage.reports.periods import parse_quarter, parse_year
from tests.scheduler.report_seed import PUBLIC, STAFF, seed_history
from tests.storage.seed import Cast

Q3 = parse_quarter("2026-Q3")


@pytest.fixture
async def history(db, scheme, tmp_path) -> Cast:
    cast = await Cast.create(db, scheme)
    await seed_history(db, scheme, cast, tmp_path)
    return cast


def pdf_text(path: Path) -> str:
    assert shutil.which("pdftotext"), "pdftotext (poppler-utils) is needed: run `make test`"
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


async def expected_by_area(db, scheme, period) -> dict[str, dict[str, int]]:
    """The same figures read the plain way: every record loaded, its local date compared."""
    tz = scheme.tz
    inside = lambda t: t is not None and period.first <= t.astimezone(tz).date() <= period.last
    before_end = lambda t: t is not None and t.astimezone(tz).date() <= period.last
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    async with db.transaction() as s:
        engagements = {e.id: e for e in (await s.scalars(select(Engagement))).all()}
        for e in engagements.values():
            if inside(e.starts_at):
                out[e.area.name][e.status] += 1
        for f in (await s.scalars(select(Feedback))).all():
            e = engagements[f.engagement_id]
            if inside(e.starts_at):
                out[e.area.name]["reached"] += f.attendees
        for fu in (await s.scalars(select(FollowUp))).all():
            area = engagements[fu.engagement_id].area.name
            out[area]["raised"] += inside(fu.created_at)
            out[area]["closed"] += inside(fu.done_at)
            out[area]["overdue"] += (before_end(fu.created_at) and before_end(fu.due_at)
                                     and not before_end(fu.done_at))
        for g in (await s.scalars(select(GrantRecommendation))).all():
            if inside(g.created_at):
                out[g.area.name]["recommended"] += 1
            if inside(g.decided_at) and g.status == "approved":
                out[g.area.name]["approved_pence"] += g.amount_pence
        people = {p.id: p for p in (await s.scalars(select(Person))).all()}
        for h in (await s.scalars(select(HoursEntry))).all():
            if period.first <= h.worked_on <= period.last:
                out[people[h.person_id].area.name]["minutes"] += h.minutes
        for m in (await s.scalars(select(Media))).all():
            if inside(m.created_at) and m.review_status == "approved":
                out[engagements[m.engagement_id].area.name]["photos"] += 1
    return out


async def test_panel_figures_match_the_records(db, scheme, history) -> None:
    """Every area's figures are the records' own, on the quarter's local days."""
    expected = await expected_by_area(db, scheme, Q3)
    async with db.transaction() as s:
        figures = await period_figures(s, scheme, Q3)
    for a in figures.areas:
        want = expected.get(a.area, {})
        got = {"held": a.activity.held, "cancelled": a.activity.cancelled,
               "planned": a.activity.planned, "reached": a.activity.reached,
               "raised": a.follow_ups_raised, "closed": a.follow_ups_closed,
               "overdue": a.follow_ups_overdue, "recommended": a.grants_recommended,
               "approved_pence": a.grants_approved_pence, "minutes": a.minutes,
               "photos": a.photos_approved}
        assert got == {k: want.get(k, 0) for k in got}, a.area
    # The edges: 1 July 00:30 BST is in, 1 October 00:30 BST is out.
    shropshire = next(a for a in figures.areas if a.area == "Shropshire")
    assert (shropshire.activity.held, shropshire.activity.reached) == (2, 65)
    assert figures.total("grants_approved_pence") == 125_050
    assert figures.fund_remaining_pence == 4_000_000 - 20_000 - 75_000 - 50_050
    assert [e.text for e in figures.excerpts] == [
        "Residents agreed to start a community speed watch.",
        "A scams talk will be repeated monthly."]
    assert "Older people" in shropshire.groups_reached
    assert "Rural communities" in shropshire.groups_reached
    assert "Faith groups" in shropshire.groups_not_reached


async def test_panel_pdf_has_the_sections_figures_and_no_names(db, scheme, history,
                                                               tmp_path) -> None:
    """The PDF read back: every section, each area's engagement line as the records have it,
    the publishable excerpts, and not one name of a member of the public (nor staff)."""
    out = await write_panel_report(db, scheme, Q3, tmp_path / "q3.pdf")
    text = pdf_text(out)
    for heading in ("Summary, and the quarter before", "Engagements by area",
                    "Demographic groups", "Topics raised", "Outcomes", "Follow-ups", "Grants",
                    "Hours against commitment", "Photos approved for use"):
        assert heading in text, heading
    assert "July to September 2026" in text and "April to June 2026" in text
    expected = await expected_by_area(db, scheme, Q3)
    table = text[text.index("Engagements by area"):]
    for area in scheme.areas:
        line = next(l for l in table.splitlines() if l.strip().startswith(area))
        numbers = [int(n) for n in re.findall(r"\b\d[\d,]*\b", line[len(area) + 2:]
                                              .replace(",", ""))]
        want = expected.get(area, {})
        assert numbers[:4] == [want.get("held", 0), want.get("cancelled", 0),
                               want.get("planned", 0), want.get("reached", 0)], line
    assert "speed watch" in " ".join(text.split())
    assert "£1,250.50" in text                       # approved in Q3
    flat = " ".join(text.split())
    for name in PUBLIC + STAFF:
        assert name not in flat, name
    html = (await write_panel_report(db, scheme, Q3, tmp_path / "q3.html")).read_text()
    for name in PUBLIC + STAFF:
        assert name not in html, name
    assert html.count("data:image/jpeg;base64,") == 2      # the two approved photos


async def test_annual_report_by_quarter(db, scheme, history, tmp_path) -> None:
    year = parse_year("2026-27")
    html = await annual_report_html(db, scheme, year)
    assert "2026-Q2" in html and "2027-Q1" in html
    out = await write_annual_report(db, scheme, year, tmp_path / "year.pdf")
    text = " ".join(pdf_text(out).split())
    assert "The year by quarter" in text and "Engagements by area" in text
    for name in PUBLIC + STAFF:
        assert name not in text, name


async def test_grants_register_lists_exactly_the_grants_decided_in_the_year(
        db, scheme, history, tmp_path) -> None:
    """Decided in 2026-27 (by decision date, not recommendation date); approved only unless
    --all-decisions; no contact, ambassador or decider named."""
    year = parse_year("2026-27")
    files, count = await write_grants_register(db, scheme, year, tmp_path / "reg")
    rows = list(csv.DictReader(open(files[0], encoding="utf-8")))
    async with db.transaction() as s:
        grants = (await s.scalars(select(GrantRecommendation))).all()
    tz = scheme.tz
    decided = [g for g in grants if g.decided_at and
               year.first <= g.decided_at.astimezone(tz).date() <= year.last]
    approved = sorted((g for g in decided if g.status == "approved"),
                      key=lambda g: g.decided_at)
    assert [r["Recipient organisation"] for r in rows] == [g.applicant_organisation
                                                           for g in approved]
    assert count == len(approved) == 4
    assert rows[0] == {"Date of decision": "2026-05-20",
                       "Recipient organisation": "Bridgnorth Pantry", "Amount (£)": "200.00",
                       "Purpose": "Bridgnorth Pantry: equipment for the project",
                       "Plan objectives": rows[0]["Plan objectives"], "Area": "Shropshire",
                       "Decision": "Approved"}
    assert rows[0]["Plan objectives"] in scheme.plan_objectives
    files, count = await write_grants_register(db, scheme, year, tmp_path / "all",
                                               all_decisions=True)
    rows = list(csv.DictReader(open(files[0], encoding="utf-8")))
    assert count == len(decided) == 5
    assert [r["Decision"] for r in rows].count("Not approved") == 1
    for path in files:
        content = path.read_text(encoding="utf-8")
        for name in PUBLIC + STAFF:
            assert name not in content, (path.name, name)


async def test_the_office_marks_an_outcome_publishable(db, scheme, history) -> None:
    """Officers and the deputy word an excerpt for publication; an ambassador cannot; an empty
    excerpt withdraws it; each change is audited. The report quotes only the office's words."""
    from storage.errors import Refused
    from storage.models import AuditEvent
    from storage.operations.outcomes import do_publish_outcome

    async with db.transaction() as s:
        f2 = await s.scalar(select(Feedback).where(Feedback.outcomes.like("Priya%")))
        fid = f2.id
    with pytest.raises(Refused):
        async with db.transaction() as s:
            await do_publish_outcome(s, scheme, feedback_id=fid, excerpt="x",
                                     actor=await s.get(Person, history.ambassador.id))
    async with db.transaction() as s:
        await do_publish_outcome(s, scheme, feedback_id=fid,
                                 excerpt="  The council will   repair the lights. ",
                                 actor=await s.get(Person, history.officer.id))
    async with db.transaction() as s:
        figures = await period_figures(s, scheme, Q3)
        assert "The council will repair the lights." in [e.text for e in figures.excerpts]
        await do_publish_outcome(s, scheme, feedback_id=fid, excerpt="",
                                 actor=await s.get(Person, history.deputy.id))
    async with db.transaction() as s:
        figures = await period_figures(s, scheme, Q3)
        assert "The council will repair the lights." not in [e.text for e in figures.excerpts]
        actions = (await s.scalars(select(AuditEvent.action).where(
            AuditEvent.target_type == "feedback", AuditEvent.target_id == fid)
            .order_by(AuditEvent.id))).all()
    # The ambassador's refusal is audited too, under the action the matrix checked.
    assert list(actions) == ["review_media", "publish_outcome", "withdraw_outcome"]


def test_the_published_csv_shows_formulas_as_text() -> None:
    from storage.reports.grants_register import csv_rows
    [row] = csv_rows([{"decided_on": dt.date(2026, 7, 3), "recipient": "=cmd|' /C calc'!A0",
                       "amount_pence": 10_050, "purpose": "+1 for the club", "objectives": [],
                       "area": "Shropshire", "decision": "Approved"}])
    assert row == ["2026-07-03", "'=cmd|' /C calc'!A0", "100.50", "'+1 for the club", "",
                   "Shropshire", "Approved"]
