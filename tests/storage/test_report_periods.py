"""Report periods as people write them: quarters `2026-Q3`, financial years `2026-27`."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, strategies as st

from storage.reports.periods import (parse_quarter, parse_year, previous_quarter, quarter,
                                     quarters_in)


def test_quarters_and_years() -> None:
    q3 = parse_quarter("2026-Q3")
    assert (q3.first, q3.last, q3.label) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30),
                                             "July to September 2026")
    assert previous_quarter(parse_quarter("2027-q1")).key == "2026-Q4"
    year = parse_year("2026-27")
    assert (year.first, year.last, year.key) == (dt.date(2026, 4, 1), dt.date(2027, 3, 31),
                                                 "2026-27")
    assert [q.key for q in quarters_in(year)] == ["2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1"]
    assert parse_year("2026/2027") == year == parse_year("2026")


@pytest.mark.parametrize("text", ["2026-Q5", "Q3", "2026-Q0", "", "26-Q3", "2026-Q3x"])
def test_a_quarter_that_is_not_one_gets_a_sentence(text: str) -> None:
    with pytest.raises(ValueError, match="write it like 2026-Q3"):
        parse_quarter(text)


@pytest.mark.parametrize("text", ["2026-28", "2026-2028", "twenty", "2026-", ""])
def test_a_year_that_is_not_one_gets_a_sentence(text: str) -> None:
    with pytest.raises(ValueError, match="write it like 2026-27"):
        parse_year(text)


@given(st.text(max_size=30))
def test_any_text_is_a_period_or_a_sentence(text: str) -> None:
    for parse in (parse_quarter, parse_year):
        try:
            period = parse(text)
        except ValueError as error:
            assert "write it like" in str(error)
        else:
            assert period.first <= period.last


@given(st.integers(1990, 2100), st.integers(1, 4))
def test_quarters_tile_the_year(year: int, number: int) -> None:
    q = quarter(year, number)
    assert previous_quarter(q).after == q.first
    assert q.months == 3
