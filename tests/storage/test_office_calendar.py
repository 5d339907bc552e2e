"""Office time: the scheme's days and hours, England's bank holidays, wall-clock across a clock
change; and the scheme file refuses an office-hours or escalation section it cannot use."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.models import Role
from storage.office_calendar import (add_office_time, is_bank_holiday, is_office_time,
                                     office_time_between)
from storage.scheme import (ACKNOWLEDGERS, SCHEMES_DIR, WEEKDAYS, Scheme, SchemeError,
                            load_scheme, parse_scheme)

LONDON = load_scheme().tz


def _local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LONDON).astimezone(dt.UTC)


@pytest.fixture(scope="module")
def scheme() -> Scheme:
    return load_scheme()


def test_both_shipped_schemes_declare_office_hours_and_a_chain() -> None:
    for name in ("west-mercia.yaml", "essex.yaml"):
        scheme = load_scheme(SCHEMES_DIR / name)
        assert scheme.office_hours.weekdays == frozenset(range(5))
        assert scheme.office_hours.bank_holidays == "england"
        assert [step.role for step in scheme.escalation.chain][:2] == [Role.DEPUTY,
                                                                    Role.COMMISSIONER]


def test_bank_holidays_come_from_the_library(scheme: Scheme) -> None:
    assert is_bank_holiday(scheme, dt.date(2026, 5, 25))        # Spring bank holiday
    assert is_bank_holiday(scheme, dt.date(2026, 12, 28))       # Boxing Day, substitute
    assert not is_bank_holiday(scheme, dt.date(2026, 5, 26))
    # Scotland keeps 2 January; England does not.
    scottish = scheme.model_copy(update={"office_hours": scheme.office_hours.model_copy(
        update={"bank_holidays": "scotland"})})
    assert is_bank_holiday(scottish, dt.date(2026, 1, 2))
    assert not is_bank_holiday(scheme, dt.date(2026, 1, 2))


def test_office_time_is_open_to_close_on_working_days(scheme: Scheme) -> None:
    assert is_office_time(scheme, _local(2026, 6, 5, 9, 0))
    assert is_office_time(scheme, _local(2026, 6, 5, 16, 59))
    assert not is_office_time(scheme, _local(2026, 6, 5, 17, 0))
    assert not is_office_time(scheme, _local(2026, 6, 5, 8, 59))
    assert not is_office_time(scheme, _local(2026, 6, 6, 12, 0))     # Saturday
    assert not is_office_time(scheme, _local(2026, 5, 25, 12, 0))    # bank holiday Monday


@pytest.mark.parametrize("start,expected", [
    # An ordinary weekend: Friday 16:00 + 4 office hours is Monday 12:00.
    (_local(2026, 6, 5, 16, 0), _local(2026, 6, 8, 12, 0)),
    # The Spring bank holiday Monday is skipped too.
    (_local(2026, 5, 22, 16, 0), _local(2026, 5, 26, 12, 0)),
    # Clocks go forward on Sunday 29 March: still 12:00 on the wall (11:00 UTC).
    (_local(2026, 3, 27, 16, 0), _local(2026, 3, 30, 12, 0)),
    # Clocks go back on Sunday 25 October: 12:00 on the wall (12:00 UTC).
    (_local(2026, 10, 23, 16, 0), _local(2026, 10, 26, 12, 0)),
    # Filed at night: the clock starts when the office opens.
    (_local(2026, 6, 9, 22, 30), _local(2026, 6, 10, 13, 0)),
    # Ending exactly at closing time ends then.
    (_local(2026, 6, 9, 13, 0), _local(2026, 6, 9, 17, 0)),
])
def test_four_office_hours(scheme: Scheme, start: dt.datetime, expected: dt.datetime) -> None:
    assert add_office_time(scheme, start, dt.timedelta(hours=4)) == expected


def test_the_dst_examples_in_utc(scheme: Scheme) -> None:
    assert add_office_time(scheme, _local(2026, 3, 27, 16, 0), dt.timedelta(hours=4)) == \
        dt.datetime(2026, 3, 30, 11, 0, tzinfo=dt.UTC)
    assert add_office_time(scheme, _local(2026, 10, 23, 16, 0), dt.timedelta(hours=4)) == \
        dt.datetime(2026, 10, 26, 12, 0, tzinfo=dt.UTC)


def test_a_naive_time_is_refused(scheme: Scheme) -> None:
    with pytest.raises(ValueError, match="aware"):
        add_office_time(scheme, dt.datetime(2026, 6, 5, 16), dt.timedelta(hours=1))


moments = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2028, 12, 31),
                       timezones=st.just(dt.UTC))
durations = st.integers(min_value=1, max_value=60 * 40).map(lambda m: dt.timedelta(minutes=m))


@settings(max_examples=150, deadline=None)
@given(start=moments, duration=durations)
def test_adding_office_time_adds_exactly_that_much(start: dt.datetime,
                                                   duration: dt.timedelta) -> None:
    scheme = load_scheme()
    end = add_office_time(scheme, start, duration)
    assert end > start
    assert office_time_between(scheme, start, end) == duration
    # The deadline falls while the office is open, or exactly as it closes.
    assert is_office_time(scheme, end) or is_office_time(scheme, end - dt.timedelta(minutes=1))


@settings(max_examples=100, deadline=None)
@given(start=moments, first=durations, second=durations)
def test_office_time_adds_up(start: dt.datetime, first: dt.timedelta,
                             second: dt.timedelta) -> None:
    scheme = load_scheme()
    assert add_office_time(scheme, add_office_time(scheme, start, first), second) == \
        add_office_time(scheme, start, first + second)


def _with(section: str) -> str:
    text = (SCHEMES_DIR / "west-mercia.yaml").read_text()
    head, _, _ = text.partition("\noffice_hours:")
    return head + "\n" + section


@pytest.mark.parametrize("section,expected", [
    ('office_hours: {days: mon-fri, from: "17:00", to: "09:00"}\n',
     ["office_hours", "close after it opens"]),
    ("office_hours: {days: monday-friday}\n", ["office_hours.days", "mon-fri"]),
    ("office_hours: {bank_holidays: narnia}\n", ["office_hours.bank_holidays", "england"]),
    ("escalation: {chain: [deputy, {person: Dev Sharma}]}\n",
     ["escalation.chain", "names Dev Sharma without a role"]),
    ("escalation: {chain: [deputy, ambassador]}\n",
     ["escalation.chain", "'ambassador' cannot acknowledge an urgent item"]),
    ("escalation: {chain: [{person: Ann Shaw, role: ambassador}]}\n",
     ["escalation.chain", "Ann Shaw's role 'ambassador' cannot acknowledge"]),
    ("escalation: {chain: []}\n", ["escalation.chain", "at least one role"]),
    ("escalation: {acknowledge_within_office_hours: 0}\n",
     ["escalation.acknowledge_within_office_hours"]),
])
def test_a_section_it_cannot_use_is_refused_with_a_sentence(section: str,
                                                            expected: list[str]) -> None:
    with pytest.raises(SchemeError) as raised:
        parse_scheme(_with(section), "schemes/west-mercia.yaml")
    for part in expected:
        assert part in str(raised.value)


def test_a_chain_may_name_a_person_with_their_role() -> None:
    scheme = parse_scheme(_with(
        "escalation:\n  acknowledge_within_office_hours: 2\n"
        "  chain: [{person: Dev Sharma, role: deputy}, commissioner]\n"))
    assert [(s.person, s.role) for s in scheme.escalation.chain] == \
        [("Dev Sharma", Role.DEPUTY), (None, Role.COMMISSIONER)]
    assert scheme.escalation.acknowledge_within_office_hours == 2


@settings(max_examples=100, deadline=None)
@given(days=st.lists(st.sampled_from(WEEKDAYS), min_size=1))
def test_any_list_of_days_is_read_as_those_days(days: list[str]) -> None:
    scheme = parse_scheme(_with(f"office_hours: {{days: {json.dumps(','.join(days))}}}\n"))
    assert scheme.office_hours.weekdays == {WEEKDAYS.index(day) for day in days}


@settings(max_examples=150, deadline=None)
@given(days=st.text(max_size=30), role=st.text(max_size=30))
def test_anything_typed_loads_or_is_refused_naming_the_key(days: str, role: str) -> None:
    """Whatever is typed for the days or a chain step, the scheme loads with a meaning or
    stops with a sentence naming the key; never an exception of another kind."""
    section = (f"office_hours: {{days: {json.dumps(days)}}}\n"
               f"escalation: {{chain: [{json.dumps(role)}]}}\n")
    try:
        scheme = parse_scheme(_with(section), "s.yaml")
    except SchemeError as refused:
        assert "office_hours.days" in str(refused) or "escalation.chain" in str(refused)
        return
    assert scheme.office_hours.weekdays <= set(range(7)) and scheme.office_hours.weekdays
    assert scheme.escalation.chain[0].role in ACKNOWLEDGERS
