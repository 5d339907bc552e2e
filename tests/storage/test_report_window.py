"""Issue 16 case 8: an engagement reported after the fact may not start before the scheme
began, nor more than `report_within_days` days back; the refusal names the earliest day, in the
scheme's time zone. The rule is the parser's (at the question) and the operation's (any door)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from storage.errors import InvalidInput
from storage.models import Engagement, Outbox
from storage.operations import engagements
from storage.parsers import format_date, parse_when
from storage.scheme import load_scheme
from tests.storage.seed import NOW, Cast

LONDON = ZoneInfo("Europe/London")
SCHEME = load_scheme()


def test_the_window_comes_from_the_scheme_file() -> None:
    assert SCHEME.limits.report_within_days == 90
    assert SCHEME.began == dt.date(2024, 5, 13)
    # 24 Nov 2026 minus 90 days is Wed 26 Aug 2026, midnight there is 23:00 UTC the day before.
    assert SCHEME.earliest_report(NOW) == dt.datetime(2026, 8, 25, 23, 0, tzinfo=dt.UTC)
    # Within 90 days of the scheme's first day, its first day is the limit.
    early = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)
    assert SCHEME.earliest_report(early) == dt.datetime(2024, 5, 12, 23, 0, tzinfo=dt.UTC)
    # A scheme file that does not say when it began began with its fund period.
    unsaid = SCHEME.model_copy(update={"started": None})
    assert unsaid.began == SCHEME.limits.fund_starts


def test_the_issues_example_is_refused_with_the_earliest_day() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_when("01/01/1970 00:00", now=NOW, allow_past=True,
                   not_before=SCHEME.earliest_report(NOW))
    assert refused.value.sentence == (
        "That's too long ago to report (Thu 1 Jan 1970, 00:00): the earliest start I can take "
        "is Wed 26 Aug 2026. Please check the date.")


def test_prenotify_keeps_its_future_rule() -> None:
    with pytest.raises(InvalidInput, match="already passed"):
        parse_when("yesterday 7pm", now=NOW)


# (More than a hundred years away is refused earlier, as a mistyped year.)
DAYS_BACK = st.integers(0, 99 * 365)
CLOCK = st.tuples(st.integers(0, 23), st.integers(0, 59)).filter(lambda hm: hm[0] not in (1, 2))
WINDOWS = st.integers(1, 3660)


@settings(max_examples=400, deadline=None)
@given(DAYS_BACK, CLOCK, WINDOWS, st.sampled_from(["%d/%m/%Y %H:%M", "%d %B %Y %H:%M"]))
def test_a_past_start_is_taken_exactly_when_it_is_inside_the_window(
        days_back: int, clock: tuple[int, int], window: int, layout: str) -> None:
    """Any day, typed as people type it: taken when on or after the earliest day and not in the
    future; otherwise refused with the earliest day, whatever the window."""
    scheme = SCHEME.model_copy(update={"limits": SCHEME.limits.model_copy(
        update={"report_within_days": window})})
    earliest = scheme.earliest_report(NOW)
    first_day = earliest.astimezone(LONDON).date()
    today = NOW.astimezone(LONDON).date()
    day = today - dt.timedelta(days=days_back)
    typed = dt.datetime.combine(day, dt.time(*clock)).strftime(layout)
    local = dt.datetime.combine(day, dt.time(*clock), tzinfo=LONDON)
    try:
        moment = parse_when(typed, now=NOW, allow_past=True, not_before=earliest)
    except InvalidInput as refusal:
        if local > NOW:
            assert "already passed" not in refusal.sentence   # not our rule: the future one
            return
        assert day < first_day
        assert f"the earliest start I can take is {format_date(first_day)}." in refusal.sentence
        return
    assert day >= first_day and moment == local.astimezone(dt.UTC) and moment >= earliest


@settings(max_examples=200, deadline=None)
@given(st.integers(-3660, 3660), st.integers(1, 3660))   # further is unreadable anyway
def test_relative_phrasings_obey_the_same_window(days: int, window: int) -> None:
    """"N days ago" reaches the same check as a typed date."""
    scheme = SCHEME.model_copy(update={"limits": SCHEME.limits.model_copy(
        update={"report_within_days": window})})
    earliest = scheme.earliest_report(NOW)
    text = f"{-days} days ago at 10am" if days < 0 else f"in {days} days at 10am"
    try:
        moment = parse_when(text, now=NOW, allow_past=True, not_before=earliest)
    except InvalidInput as refusal:
        assert days >= 0 or "too long ago" in refusal.sentence
        return
    assert moment >= earliest


async def test_the_operation_refuses_a_start_before_the_window(db, scheme) -> None:
    """Whatever door the report comes in by (a Slack modal, a draft submitted days after the
    date was typed), the operation holds the same rule and records nothing."""
    cast = await Cast.create(db, scheme)
    earliest = scheme.earliest_report(NOW)
    for starts in (dt.datetime(1970, 1, 1, tzinfo=dt.UTC), earliest - dt.timedelta(minutes=1)):
        with pytest.raises(InvalidInput, match="earliest start I can take is Wed 26 Aug 2026"):
            async with db.transaction() as s:
                await engagements.do_prenotify_engagement(
                    s, scheme, title="T", kind="Other", place="P", starts_at=starts,
                    ends_at=starts + dt.timedelta(hours=1), after_the_fact=True,
                    actor=await s.merge(cast.ambassador), now=NOW)
    async with db.transaction() as s:
        assert (await s.scalars(select(Engagement))).all() == []
        assert (await s.scalars(select(Outbox))).all() == []
        await engagements.do_prenotify_engagement(
            s, scheme, title="T", kind="Other", place="P", starts_at=earliest,
            ends_at=earliest + dt.timedelta(hours=1), after_the_fact=True,
            actor=await s.merge(cast.ambassador), now=NOW)
    async with db.transaction() as s:
        [held] = (await s.scalars(select(Engagement))).all()
    assert held.status == "held"
