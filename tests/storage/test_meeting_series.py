"""The quarterly meetings come from the scheme's pattern: the right local time on either side
of a clock change, a bank holiday moves a meeting to the next working day (and says so), an
impossible pattern stops the scheme loading with a sentence, and the diary is filled a quarter
ahead once — however often, or however late, the schedule runs."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import yaml
from sqlalchemy import select

from scheduler.jobs import JobContext, hourly_reminders
from storage.models import Meeting, Outbox
from storage.operations import meeting_series
from storage.scheme import DEFAULT_SCHEME_FILE, SchemeError, load_scheme, parse_scheme
from storage.scheme_meetings import MeetingSeries
from tests.storage.seed import Cast

UTC = dt.UTC


def with_meetings(meetings: dict) -> str:
    data = yaml.safe_load(DEFAULT_SCHEME_FILE.read_text(encoding="utf-8"))
    data["meetings"] = meetings
    return yaml.safe_dump(data)


def test_west_mercia_second_tuesday_at_ten_local_across_the_clock_change(scheme) -> None:
    series = scheme.meetings.quarterly
    found = meeting_series.occurrences_between(
        scheme, series, dt.datetime(2026, 11, 24, tzinfo=UTC), dt.datetime(2027, 8, 1, tzinfo=UTC))
    assert [(o.key, o.starts_at) for o in found] == [
        ("quarterly:2027-01", dt.datetime(2027, 1, 12, 10, 0, tzinfo=UTC)),   # GMT
        ("quarterly:2027-04", dt.datetime(2027, 4, 13, 9, 0, tzinfo=UTC)),    # BST: 10:00 local
        ("quarterly:2027-07", dt.datetime(2027, 7, 13, 9, 0, tzinfo=UTC))]
    assert all(o.ends_at - o.starts_at == dt.timedelta(hours=2) for o in found)
    assert all(o.date_note is None for o in found)


def test_a_meeting_on_easter_monday_moves_to_tuesday_and_says_so(scheme) -> None:
    """The last Monday of March 2027 is Easter Monday (and the clocks went forward the day
    before): the meeting is on Tuesday 30 March at 10:00 BST, 09:00 UTC."""
    series = MeetingSeries(months=[3, 12], week="last", weekday="mon", time="10:00")
    march = meeting_series.occurrence(scheme, series, 2027, 3)
    assert march.pattern_day == dt.date(2027, 3, 29)
    assert march.starts_at == dt.datetime(2027, 3, 30, 9, 0, tzinfo=UTC)
    assert march.date_note == ("Moved from Mon 29 Mar 2027 (a bank holiday) to the next "
                               "working day.")
    # December's last Monday (27th) is the Christmas substitute bank holiday, Tuesday 28th
    # too (Boxing Day's): Wednesday, at 10:00 GMT.
    december = meeting_series.occurrence(scheme, series, 2027, 12)
    assert december.starts_at == dt.datetime(2027, 12, 29, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("rule, sentence", [
    ({"months": [2, 5], "day": 31}, "February has no 31st day"),
    ({"months": [1, 4], "day": 31}, "April has no 31st day"),
    ({"months": [2], "day": 29}, "February has a 29th day only in a leap year"),
    ({"months": [1, 4], "week": 5, "weekday": "tue"}, "not every month has a fifth week"),
    ({"months": [1, 4], "week": 2, "weekday": "tuseday"}, "is not a weekday"),
    ({"months": [1, 13], "week": 2, "weekday": "tue"}, "13 is not a month"),
    ({"months": [1, 4], "week": 2}, "say which day"),
    ({"months": [1, 4], "week": 2, "weekday": "tue", "time": "25:00"}, "meetings.quarterly.time"),
])
def test_an_impossible_pattern_is_refused_naming_the_key_and_why(rule, sentence) -> None:
    with pytest.raises(SchemeError) as refused:
        parse_scheme(with_meetings({"quarterly": rule}), "scheme.yaml")
    assert sentence in str(refused.value)
    assert "scheme.yaml line" in str(refused.value) and "meetings.quarterly" in str(refused.value)


def test_each_office_has_its_own_venue() -> None:
    essex = load_scheme(DEFAULT_SCHEME_FILE.parent / "essex.yaml")
    west = load_scheme()
    assert (essex.meetings.quarterly.venue or essex.words.meeting_venue) == "Kelvedon Park, Witham"
    assert (west.meetings.quarterly.venue or west.words.meeting_venue) == "Hindlip Park, Worcester"


async def _outbox(db) -> Counter[str]:
    async with db.transaction() as s:
        return Counter((r.event, r.destination) for r in (await s.scalars(select(Outbox))).all())


async def test_the_diary_is_filled_a_quarter_ahead_once_even_after_downtime(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    tg = {str(cast.ambassador.telegram_id), str(cast.other_ambassador.telegram_id)}
    # 1 October 2026: October's meeting (13th) and January's are not yet both a quarter away.
    assert await hourly_reminders(JobContext(db, scheme, dt.datetime(2026, 10, 1, 9, tzinfo=UTC))) \
        >= 0
    async with db.transaction() as s:
        keys = (await s.scalars(select(Meeting.series_key).order_by(Meeting.starts_at))).all()
    assert keys == ["quarterly:2026-10"]
    # The scheduler was down from October to late November, then catches up: three runs in
    # the same hour (as a restart and a second machine might) add January once.
    late = dt.datetime(2026, 11, 24, 12, tzinfo=UTC)
    for _ in range(3):
        await hourly_reminders(JobContext(db, scheme, late))
    async with db.transaction() as s:
        meetings = (await s.scalars(select(Meeting).order_by(Meeting.starts_at))).all()
        assert [(m.series_key, m.place, m.title) for m in meetings] == [
            ("quarterly:2026-10", "Hindlip Park, Worcester", "Quarterly ambassadors' meeting"),
            ("quarterly:2027-01", "Hindlip Park, Worcester", "Quarterly ambassadors' meeting")]
        invitations = (await s.scalars(select(Outbox).where(
            Outbox.event == "meeting_invitation").order_by(Outbox.id))).all()
    sent = await _outbox(db)
    for chat in tg:
        assert sent[("meeting_invitation", chat)] == 2          # one per meeting, never again
    assert sent[("meeting_post", scheme.channels.engagements)] == 2
    assert invitations[-1].payload["text"].startswith(
        "Quarterly ambassadors' meeting: Tue 12 Jan 2027, 10:00 at Hindlip Park, Worcester.")
    # A week before January's meeting each ambassador is reminded once, however many runs.
    week_before = dt.datetime(2027, 1, 5, 11, tzinfo=UTC)
    for _ in range(2):
        await hourly_reminders(JobContext(db, scheme, week_before))
    sent = await _outbox(db)
    for chat in tg:
        assert sent[("meeting_reminder", chat)] == 1
