"""Meeting reminders come from the scheme file (`meetings.quarterly.remind_days_before`): an
office that reminds a fortnight and two days ahead gets exactly those, once each; the number of
days that cannot work stops the scheme loading with the reason."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from sqlalchemy import select

from storage.models import Outbox
from storage.operations import meetings, people, reminders
from storage.scheme import DEFAULT_SCHEME_FILE, SchemeError, parse_scheme
from tests.storage.seed import NOW, Cast


def with_reminders(days: list[int]) -> str:
    data = yaml.safe_load(DEFAULT_SCHEME_FILE.read_text(encoding="utf-8"))
    data["meetings"]["quarterly"]["remind_days_before"] = days
    return yaml.safe_dump(data)


def test_west_mercia_reminds_a_week_and_a_day_before(scheme) -> None:
    assert scheme.meetings.remind_days_before() == (7, 1)


async def test_reminders_on_the_days_the_scheme_names_once_each(db) -> None:
    scheme = parse_scheme(with_reminders([14, 2]), "scheme.yaml")
    cast = await Cast.create(db, scheme)
    starts = NOW + dt.timedelta(days=20)
    async with db.transaction() as s:
        made = await meetings.do_schedule_meeting(
            s, scheme, kind="quarterly", title="Quarterly ambassadors' meeting",
            place="Hindlip Park", starts_at=starts, ends_at=starts + dt.timedelta(hours=2),
            actor=await people.get_person(s, cast.officer.id), now=NOW)

    async def run(days_before: float) -> list[str]:
        async with db.transaction() as s:
            rows = await reminders.do_remind_meetings(
                s, scheme, now=starts - dt.timedelta(days=days_before))
            return [r.payload["text"] for r in rows]

    assert await run(15) == []                                   # not yet
    early = await run(13.9)
    assert len(early) == 2 and all("is in 14 days" in t for t in early)
    assert await run(13) == []                                    # once
    assert await run(7) == []                                     # no week-before of its own
    last = await run(1.9)
    assert len(last) == 2 and all("is in 2 days" in t for t in last)
    assert await run(1) == []
    async with db.transaction() as s:
        kinds = (await s.scalars(select(Outbox.payload["which"].as_string()).where(
            Outbox.event == "meeting_reminder", Outbox.payload["meeting_id"].as_integer()
            == made.id))).all()
    assert sorted(kinds) == ["day", "day", "week", "week"]


@pytest.mark.parametrize("days", [[1, 7], [7, 0], [90, 1], [7]])
def test_reminder_days_that_cannot_work_stop_the_scheme_loading(days) -> None:
    with pytest.raises(SchemeError) as refused:
        parse_scheme(with_reminders(days), "scheme.yaml")
    assert "remind_days_before" in str(refused.value)
