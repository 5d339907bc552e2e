"""The office's extracts (CSV/XLSX): one table per kind of record, as an office reads them.

Headers are words, not column names; times are shown in the scheme's zone (date cells in the
workbook, `YYYY-MM-DD HH:MM` in CSV), money is pounds (currency cells in the workbook), and
`--since/--until` pick records by the date that matters for each kind: an engagement by when
it starts, feedback by when it was filed, a follow-up by when it was raised, a grant by when it
was decided, hours by the day worked, an expense by the day incurred, a photo by when it
arrived, a meeting by when it starts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (Area, Engagement, ExpenseClaim, Feedback, FollowUp,
                            GrantRecommendation, HoursEntry, Media, Meeting, MeetingRsvp, Person)
from storage.operations.follow_ups import follow_up_title
from storage.scheme import Scheme

EXTRACTS = ("engagements", "feedback", "follow_ups", "grants", "hours", "expenses", "media",
            "meetings")
SHEET_TITLES = {"follow_ups": "Follow-ups"}
TEXT, INT, WHEN, DAY, MONEY, HOURS, MILES = ("text", "int", "when", "day", "money", "hours",
                                              "miles")
XLSX_FORMATS = {WHEN: "yyyy-mm-dd hh:mm", DAY: "yyyy-mm-dd", MONEY: '"£"#,##0.00',
                HOURS: "0.00", MILES: "0.0"}


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = TEXT


@dataclass
class Extract:
    """One table: its columns and rows of plain values (local naive datetimes, dates, pence
    as int for money, minutes for hours, tenths for miles)."""
    name: str
    columns: list[Column]
    rows: list[list[Any]]

    @property
    def title(self) -> str:
        return SHEET_TITLES.get(self.name, self.name.replace("_", " ").capitalize())

    def csv_rows(self) -> list[list[Any]]:
        return [[_csv_cell(value, column.kind) for value, column in zip(row, self.columns)]
                for row in self.rows]

    def xlsx_rows(self) -> list[list[Any]]:
        return [[_xlsx_cell(value, column.kind) for value, column in zip(row, self.columns)]
                for row in self.rows]


FORMULA_STARTS = ("=", "+", "-", "@")


def _csv_cell(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == TEXT and isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value   # a spreadsheet opening the CSV shows it, not runs it
    if kind == WHEN:
        return value.strftime("%Y-%m-%d %H:%M")
    if kind == DAY:
        return value.isoformat()
    if kind == MONEY:
        return f"{value / 100:.2f}"
    if kind == HOURS:
        return f"{value / 60:.2f}"
    if kind == MILES:
        return f"{value / 10:.1f}"
    return value


def _xlsx_cell(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == MONEY:
        return value / 100
    if kind == HOURS:
        return round(value / 60, 2)
    if kind == MILES:
        return value / 10
    return value


def _local(value: dt.datetime | None, scheme: Scheme) -> dt.datetime | None:
    """A local wall-clock time without zone: what a spreadsheet cell holds."""
    return value.astimezone(scheme.tz).replace(tzinfo=None, microsecond=0) if value else None


def _window(column: Any, start: dt.date | None, end: dt.date | None, scheme: Scheme,
            is_date: bool = False) -> list[Any]:
    clauses = []
    if start:
        clauses.append(column >= (start if is_date else dt.datetime.combine(
            start, dt.time(), scheme.tz)))
    if end:
        after = end + dt.timedelta(days=1)
        clauses.append(column < (after if is_date else dt.datetime.combine(
            after, dt.time(), scheme.tz)))
    return clauses


async def extract(session: AsyncSession, scheme: Scheme, name: str, start: dt.date | None,
                  end: dt.date | None) -> Extract:
    """One extract, its rows chosen by the date that matters for its kind."""
    amb = aliased(Person)
    other = aliased(Person)
    third = aliased(Person)
    L = lambda value: _local(value, scheme)  # noqa: E731
    if name == "engagements":
        rows = await session.execute(
            select(Engagement, amb.name, Area.name).join(amb, amb.id == Engagement.ambassador_id)
            .join(Area, Area.id == Engagement.area_id)
            .where(*_window(Engagement.starts_at, start, end, scheme)).order_by(Engagement.id))
        return Extract(name, [Column("Engagement", INT), Column("Ambassador"), Column("Area"),
                              Column("Title"), Column("Kind"), Column("Place"),
                              Column("Starts", WHEN), Column("Ends", WHEN),
                              Column("Expected audience", INT), Column("Status"),
                              Column("Notice given", WHEN), Column("Reported after the event"),
                              Column("Reason cancelled")],
                       [[e.id, a, ar, e.title, e.kind, e.place, L(e.starts_at), L(e.ends_at),
                         e.expected_audience, e.status, L(e.notice_given_at),
                         "yes" if e.reported_after else "no", e.cancel_reason]
                        for e, a, ar in rows.all()])
    if name == "feedback":
        rows = await session.execute(
            select(Feedback, Engagement.title, amb.name, Area.name)
            .join(Engagement, Engagement.id == Feedback.engagement_id)
            .join(Area, Area.id == Engagement.area_id)
            .join(amb, amb.id == Feedback.ambassador_id)
            .where(*_window(Feedback.submitted_at, start, end, scheme)).order_by(Feedback.id))
        return Extract(name, [Column("Feedback", INT), Column("Engagement"),
                              Column("Ambassador"), Column("Area"), Column("People reached", INT),
                              Column("Demographic groups"), Column("Topics"),
                              Column("Summary"), Column("Outcomes"),
                              Column("Outcome approved for publication"),
                              Column("Follow-up needed by"), Column("Urgency"),
                              Column("Hours spent", HOURS), Column("Filed", WHEN)],
                       [[f.id, t, a, ar, f.attendees, "; ".join(g.name for g in f.groups),
                         "; ".join(x.name for x in f.topics), f.summary, f.outcomes,
                         f.public_outcome, f.follow_up_needed.replace("_", " "), f.urgency,
                         f.minutes_spent, L(f.submitted_at)] for f, t, a, ar in rows.all()])
    if name == "follow_ups":
        rows = await session.execute(
            select(FollowUp, follow_up_title(), Area.name, amb.name, other.name)
            .outerjoin(Engagement, Engagement.id == FollowUp.engagement_id)
            .outerjoin(Meeting, Meeting.id == FollowUp.meeting_id)
            .outerjoin(Area, Area.id == Engagement.area_id)
            .outerjoin(amb, amb.id == FollowUp.owner_id)
            .outerjoin(other, other.id == FollowUp.done_by_id)
            .where(*_window(FollowUp.created_at, start, end, scheme)).order_by(FollowUp.id))
        return Extract(name, [Column("Follow-up", INT), Column("Engagement"), Column("Area"),
                              Column("Needed by"), Column("Urgency"), Column("Detail"),
                              Column("Held by"), Column("Status"), Column("Raised", WHEN),
                              Column("Due", WHEN), Column("Acknowledged", WHEN),
                              Column("Closed", WHEN), Column("Closed by")],
                       [[u.id, t, ar, u.needed_by.replace("_", " "), u.urgency, u.detail, owner,
                         u.status, L(u.created_at), L(u.due_at), L(u.acknowledged_at),
                         L(u.done_at), closer] for u, t, ar, owner, closer in rows.all()])
    if name == "grants":
        g = GrantRecommendation
        rows = await session.execute(
            select(g, Engagement.title, other.name, third.name)
            .outerjoin(Engagement, Engagement.id == g.engagement_id)
            .outerjoin(other, other.id == g.decided_by_id)
            .outerjoin(third, third.id == g.scrutinised_by_id)
            .where(*_window(g.decided_at, start, end, scheme)).order_by(g.id))
        return Extract(name, [Column("Grant", INT), Column("Ambassador"), Column("Area"),
                              Column("Engagement"), Column("Applicant organisation"),
                              Column("Applicant contact"), Column("Project"),
                              Column("Amount", MONEY), Column("Plan objectives"),
                              Column("Status"), Column("Recommended", WHEN),
                              Column("Scrutinised by"), Column("Deputy's recommendation"),
                              Column("Decided by"), Column("Decided", WHEN),
                              Column("Reason")],
                       [[x.id, x.ambassador.name, x.area.name, t, x.applicant_organisation,
                         x.applicant_contact, x.project, x.amount_pence,
                         "; ".join(o.name for o in x.objectives), x.status.replace("_", " "),
                         L(x.created_at), scrutiniser, x.deputy_recommendation, decider,
                         L(x.decided_at), x.decision_reason]
                        for x, t, decider, scrutiniser in rows.all()])
    if name == "hours":
        rows = await session.execute(
            select(HoursEntry, amb.name, Engagement.title).join(amb, amb.id == HoursEntry.person_id)
            .outerjoin(Engagement, Engagement.id == HoursEntry.engagement_id)
            .where(*_window(HoursEntry.worked_on, start, end, scheme, is_date=True))
            .order_by(HoursEntry.id))
        return Extract(name, [Column("Entry", INT), Column("Person"), Column("Day", DAY),
                              Column("Hours", HOURS), Column("Engagement"),
                              Column("Description")],
                       [[h.id, a, h.worked_on, h.minutes, t, h.description]
                        for h, a, t in rows.all()])
    if name == "expenses":
        rows = await session.execute(
            select(ExpenseClaim, amb.name, other.name).join(amb, amb.id == ExpenseClaim.person_id)
            .outerjoin(other, other.id == ExpenseClaim.decided_by_id)
            .where(*_window(ExpenseClaim.incurred_on, start, end, scheme, is_date=True))
            .order_by(ExpenseClaim.id))
        return Extract(name, [Column("Claim", INT), Column("Person"), Column("Kind"),
                              Column("Amount", MONEY), Column("Miles", MILES),
                              Column("Incurred", DAY), Column("Description"), Column("Status"),
                              Column("Decided by"), Column("Decided", WHEN),
                              Column("Paid", WHEN)],
                       [[c.id, a, c.kind, c.amount_pence, c.miles_tenths, c.incurred_on,
                         c.description, c.status, decider, L(c.decided_at), L(c.paid_at)]
                        for c, a, decider in rows.all()])
    if name == "media":
        rows = await session.execute(
            select(Media, amb.name, Engagement.title, Area.name, other.name)
            .join(amb, amb.id == Media.ambassador_id)
            .join(Engagement, Engagement.id == Media.engagement_id)
            .join(Area, Area.id == Engagement.area_id)
            .outerjoin(other, other.id == Media.reviewed_by_id)
            .where(*_window(Media.created_at, start, end, scheme)).order_by(Media.id))
        yes = lambda flag: "yes" if flag else "no"  # noqa: E731
        return Extract(name, [Column("Item", INT), Column("Ambassador"), Column("Engagement"),
                              Column("Area"), Column("Kind"), Column("Received", WHEN),
                              Column("Consent given"), Column("Children present"),
                              Column("Guardian consent"), Column("Review"),
                              Column("Reviewed by"), Column("Reviewed", WHEN)],
                       [[m.id, a, t, ar, m.kind, L(m.created_at), yes(m.consent_given),
                         yes(m.children_present), yes(m.guardian_consent), m.review_status,
                         reviewer, L(m.reviewed_at)] for m, a, t, ar, reviewer in rows.all()])
    if name == "meetings":
        meetings = (await session.scalars(
            select(Meeting).where(*_window(Meeting.starts_at, start, end, scheme))
            .order_by(Meeting.starts_at, Meeting.id))).all()
        names = dict((await session.execute(select(Person.id, Person.name).where(
            Person.id.in_({r.person_id for m in meetings for r in m.rsvps})))).all())

        def answered(meeting: Meeting, answer: str) -> str:
            return "; ".join(sorted(names.get(r.person_id, "") for r in meeting.rsvps
                                    if r.answer == answer))
        return Extract(name, [Column("Meeting", INT), Column("Kind"), Column("Title"),
                              Column("Place"), Column("Starts", WHEN), Column("Ends", WHEN),
                              Column("Cancelled", WHEN), Column("Coming"), Column("Maybe"),
                              Column("Not coming")],
                       [[m.id, m.kind.replace("_", "-"), m.title, m.place, L(m.starts_at),
                         L(m.ends_at), L(m.cancelled_at), answered(m, "yes"),
                         answered(m, "maybe"), answered(m, "no")] for m in meetings])
    raise ValueError(f"unknown extract {name!r}")


async def extract_rows(session: AsyncSession, scheme: Scheme, name: str, start: dt.date | None,
                       end: dt.date | None) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of one extract as CSV cells (times in the scheme's zone, pounds)."""
    table = await extract(session, scheme, name, start, end)
    return [c.header for c in table.columns], table.csv_rows()


def write_xlsx(tables: list[Extract], path: Path) -> None:
    """One sheet per extract: bold frozen header, date and currency cells, sensible widths."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for table in tables:
        sheet = book.create_sheet(table.title)
        sheet.append([c.header for c in table.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for row in table.xlsx_rows():
            sheet.append(row)
            # Text someone typed is text: "=HYPERLINK(…)" must not become a formula.
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
        for index, column in enumerate(table.columns, start=1):
            letter = get_column_letter(index)
            fmt = XLSX_FORMATS.get(column.kind)
            if fmt:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = fmt
            width = max([len(column.header)] + [len(str(v)) for v in
                                                (r[index - 1] for r in table.rows[:200])
                                                if v is not None])
            sheet.column_dimensions[letter].width = min(max(width, 8) + 2, 60)
    book.save(path)
