"""The parsers: what people type on a phone → values, or one sentence saying what to type.

Table-driven examples for each accepted and refused form (a refusal must say what to do
instead), and property tests: whatever arrives — empty, 10,000 characters, NUL, RTL marks,
emoji, ZWJ sequences, full-width digits, lone surrogates — only `InvalidInput` escapes and
results are in range. Dates are checked across both London clock changes.

Hypothesis runs the modest "parsers" profile (200 examples, < 15 s for the file); a bench run
can raise it with `PARSERS_HYPOTHESIS_PROFILE=parsers-bench` (5,000 examples).
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from storage import parsers
from storage.errors import InvalidInput
from storage.parsers import (
    MAX_PENCE,
    clean_text,
    format_date,
    format_hours,
    format_money,
    format_when,
    over_cap_sentence,
    parse_choice,
    parse_contact,
    parse_count,
    parse_date,
    parse_hours,
    parse_miles,
    parse_money,
    parse_text,
    parse_when,
    parse_yes_no,
)

settings.register_profile(
    "parsers", max_examples=200, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "parsers-bench", max_examples=5_000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = settings.get_profile(os.environ.get("PARSERS_HYPOTHESIS_PROFILE", "parsers"))

LONDON = ZoneInfo("Europe/London")
UTC = dt.timezone.utc
#: Wednesday 10 March 2027, 12:00 GMT (= UTC; British Summer Time starts on 28 March).
NOW = dt.datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


def london(*args: int) -> dt.datetime:
    """A London wall-clock time as aware UTC (fold=0: the first of an autumn pair)."""
    return dt.datetime(*args, tzinfo=LONDON).astimezone(UTC)


def refusal(call, *args, **kwargs) -> str:
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)
    return caught.value.sentence


def says_what_to_do(sentence: str) -> bool:
    """A refusal is friendly and actionable: one short paragraph with an instruction."""
    lowered = sentence.lower()
    return (sentence.endswith((".", "?")) and len(sentence) < 300 and "\n" not in sentence
            and any(word in lowered for word in ("please", "type", "give", "enter", "add")))


# ------------------------------------------------------------------------------------------
# Hostile input: the alphabet every property test draws from
# ------------------------------------------------------------------------------------------

ODD = ["\x00", "\u200d", "\u200b", "\u200e", "\u200f", "\u202e", "\u2066", "\ufeff",
       "\ud800", "\udfff", "\u00a0", "\u202f", "\u3000", "\u2028", "\r", "\n", "\t",
       "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f44d\U0001f3fd", "\ufe0f",
       "\u0301", "\uff11", "\uff14", "\uff1a", "\uff0f", "\u0661", "\u096a", "\u2212",
       "\u2013", "\u00a3", "\uffe1", "$", "\u20ac", "'; DROP TABLE grants; --",
       "<script>", "%s", "{0}", "\\", "..", "1e3", "1k", "9" * 30]
HOSTILE_CHAR = st.one_of(
    st.characters(),
    st.characters(categories=["Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Nd", "Mn", "So", "Sk",
                              "Co", "Cn"]),
    st.sampled_from(list("0123456789£.,:/-+~ pmhkadyt")),
)
HOSTILE_TEXT = st.one_of(
    st.text(HOSTILE_CHAR, max_size=60),
    st.lists(st.sampled_from(ODD) | st.text(HOSTILE_CHAR, max_size=5), max_size=12).map("".join),
    st.text(HOSTILE_CHAR, min_size=190, max_size=260),  # either side of the length cut-off
    st.tuples(st.sampled_from(["1", "£1", " ", "a", "\u200d", "\x00", "14/03 "]),
              st.integers(200, 12_000)).map(lambda pair: pair[0] * pair[1]),
)
# Date-shaped text: known words and forms in random orders reach the deeper branches.
DATE_WORDS = ["14/03", "3/4", "31/02", "29/02", "14/03/2027", "2027-03-14", "14.03.27",
              "19:00", "7pm", "7:30pm", "19.30", "12am", "12pm", "00:00", "24:00", "1:30",
              "01:30", "7", "19", "14th", "at", "on", "the", "of", "in", "a", "2", "hours",
              "days", "weeks", "ago", "from", "now", "today", "tonight", "tomorrow",
              "yesterday", "day", "after", "next", "this", "last", "coming", "week", "month",
              "weekend", "monday", "tue", "friday", "sun", "march", "oct", "jun", "2027",
              "2028", "noon", "midnight", "morning", "evening", "afternoon", "o'clock", "-",
              "to", "or", "and", ",", "utc", "ish", "t", "9999", "0", "99"]
DATE_TEXT = st.lists(st.sampled_from(DATE_WORDS), min_size=1, max_size=6).map(" ".join)
NOWS = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 12, 31),
                    timezones=st.just(UTC))


# ------------------------------------------------------------------------------------------
# Money
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "pence"), [
    ("£1,000", 100_000),
    ("1000", 100_000),
    ("£250.50", 25_050),
    ("250.5", 25_050),
    (" 250 ", 25_000),
    ("£ 250", 25_000),
    ("250.00", 25_000),
    ("1,000.00", 100_000),
    ("GBP 250", 25_000),
    ("250 gbp", 25_000),
    ("250 pounds", 25_000),
    ("£.50", 50),
    ("0250", 25_000),
    ("250p", 250),  # pence, as written in Britain; the summary shows £2.50
    ("250 pence", 250),
    ("\uffe1\uff12\uff15\uff10", 25_000),  # full-width ￡２５０ from an East Asian keyboard
    ("\u200f£250\u200e", 25_000),  # RTL/LTR marks around it
    ("£40,000", 4_000_000),  # the scheme file's fund size
    ("£999,999,999.99", MAX_PENCE),
])
def test_money_accepted(typed: str, pence: int) -> None:
    assert parse_money(typed) == pence


@pytest.mark.parametrize(("typed", "expected"), [
    ("-5", "can't be negative"),
    ("\u22125", "can't be negative"),  # a typographic minus is still a minus
    ("£-5", "can't be negative"),
    ("-£5", "can't be negative"),
    ("1k", "in full, e.g. £1,000"),
    ("£2 grand", "in full"),
    ("1e3", "in full"),
    ("£1,000.505", "two decimal places"),
    ("", "type an amount"),
    ("   ", "type an amount"),
    ("ten pounds", "in figures"),
    ("£", "in figures"),
    ("1,00", "commas"),
    ("250,50", "commas"),
    ("1,0000", "commas"),
    ("9" * 30, "too large"),
    ("£1,000,000,000", "too large"),
    ("0", "greater than zero"),
    ("£0.00", "greater than zero"),
    ("$250", "in pounds"),
    ("250 euros", "in pounds"),
    ("£250p", "not both"),
    ("2.50p", "whole number"),
    ("1" * 201, "just the amount"),
    ("'; DROP TABLE grants; --", "in figures"),
])
def test_money_refused(typed: str, expected: str) -> None:
    sentence = refusal(parse_money, typed)
    assert expected in sentence
    assert says_what_to_do(sentence)


def test_money_zero_allowed_when_asked() -> None:
    assert parse_money("0", allow_zero=True) == 0
    assert parse_money("£0.00", allow_zero=True) == 0


def test_money_over_the_cap_uses_the_shared_sentence() -> None:
    sentence = refusal(parse_money, "£1,000.50", cap_pence=100_000)
    assert sentence == ("£1,000.50 is over the £1,000 limit for a grant. "
                        "Please enter £1,000 or less.")
    assert sentence == over_cap_sentence(100_050, 100_000)
    assert parse_money("£1,000", cap_pence=100_000) == 100_000


def test_over_cap_sentence_names_what() -> None:
    assert over_cap_sentence(5_001, 5_000, what="one receipt") == (
        "£50.01 is over the £50 limit for one receipt. Please enter £50 or less.")


@pytest.mark.parametrize(("pence", "shown"), [
    (100_000, "£1,000"), (25_050, "£250.50"), (5, "£0.05"), (0, "£0"), (4_000_000, "£40,000"),
    (-500, "-£5"), (123_456_789, "£1,234,567.89"),
])
def test_format_money(pence: int, shown: str) -> None:
    assert format_money(pence) == shown


@PROFILE
@given(st.integers(1, MAX_PENCE))
def test_money_round_trip(pence: int) -> None:
    assert parse_money(format_money(pence)) == pence


@PROFILE
@given(HOSTILE_TEXT, st.one_of(st.none(), st.integers(0, 10**8)), st.booleans())
def test_money_never_crashes(text: str, cap: int | None, allow_zero: bool) -> None:
    try:
        pence = parse_money(text, cap_pence=cap, allow_zero=allow_zero)
    except InvalidInput as refused:
        assert says_what_to_do(refused.sentence) or "limit" in refused.sentence
        return
    assert (0 if allow_zero else 1) <= pence <= MAX_PENCE
    assert cap is None or pence <= cap


# ------------------------------------------------------------------------------------------
# Counts
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "count"), [
    ("40", 40), (" 40 ", 40), ("1,200", 1_200), ("~40", 40), ("about 40", 40),
    ("around 40", 40), ("approx. 40", 40), ("c. 40", 40), ("c40", 40), ("40+", 40),
    ("40ish", 40), ("40-ish", 40), ("40 or so", 40), ("40 people", 40), ("none", 0),
    ("nobody", 0), ("0", 0), ("\uff14\uff10", 40), ("100000", 100_000),
])
def test_count_accepted(typed: str, count: int) -> None:
    assert parse_count(typed) == count


@pytest.mark.parametrize(("typed", "kwargs", "expected"), [
    ("-3", {}, "can't be negative"),
    ("4.5", {}, "whole number"),
    ("forty", {}, "in figures, e.g. 40"),
    ("", {}, "in figures"),
    ("30-40", {}, "one number rather than a range, e.g. 35"),
    ("30 to 40", {}, "e.g. 35"),
    ("100001", {}, "up to 100,000"),
    ("9" * 50, {}, "check the number"),
    ("0", {"minimum": 1}, "from 1 to 100,000"),
    ("12", {"maximum": 10, "what": "photos"}, "more than the 10 photos"),
    ("1,00", {}, "commas"),
])
def test_count_refused(typed: str, kwargs: dict, expected: str) -> None:
    sentence = refusal(parse_count, typed, **kwargs)
    assert expected in sentence
    assert says_what_to_do(sentence)


@PROFILE
@given(HOSTILE_TEXT, st.integers(0, 50), st.integers(50, 10**6))
def test_count_never_crashes(text: str, minimum: int, maximum: int) -> None:
    try:
        n = parse_count(text, minimum=minimum, maximum=maximum)
    except InvalidInput as refused:
        assert says_what_to_do(refused.sentence)
        return
    assert minimum <= n <= maximum


# ------------------------------------------------------------------------------------------
# Hours
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "minutes"), [
    ("2", 120), ("1.5", 90), ("1.25h", 75), ("1.33", 80), (".5", 30), ("1h30", 90),
    ("1h 30m", 90), ("1hr 30mins", 90), ("1 hour and 30 minutes", 90), ("90m", 90),
    ("90 mins", 90), ("2 hours", 120), ("0:45", 45), ("1:30", 90), ("half an hour", 30),
    ("an hour and a half", 90), ("24", 1_440), ("\uff11\uff1a\uff13\uff10", 90),
])
def test_hours_accepted(typed: str, minutes: int) -> None:
    assert parse_hours(typed) == minutes


@pytest.mark.parametrize(("typed", "expected"), [
    ("0", "no time at all"),
    ("0:00", "no time at all"),
    ("-1", "can't be negative"),
    ("25", "more than 24 hours for one entry"),
    ("90", "If you meant 90 minutes, type 90m"),
    ("24:01", "more than 24 hours"),
    ("1.333", "two decimal places"),
    ("1h 90m", "under 60"),
    ("1:75", "under 60"),
    ("1,5", "full stop"),
    ("90.5m", "whole minutes"),
    ("nonsense", "1h 30m"),
    ("", "time spent"),
    ("9" * 40, "more than 24 hours"),
])
def test_hours_refused(typed: str, expected: str) -> None:
    sentence = refusal(parse_hours, typed)
    assert expected in sentence
    assert says_what_to_do(sentence)


def test_hours_maximum_is_configurable() -> None:
    assert "more than 8 hours" in refusal(parse_hours, "9", maximum_minutes=8 * 60)


@pytest.mark.parametrize(("minutes", "shown"), [(90, "1h 30m"), (120, "2h"), (45, "45m")])
def test_format_hours(minutes: int, shown: str) -> None:
    assert format_hours(minutes) == shown


@PROFILE
@given(st.integers(1, 24 * 60))
def test_hours_round_trip(minutes: int) -> None:
    assert parse_hours(format_hours(minutes)) == minutes


@PROFILE
@given(HOSTILE_TEXT, st.integers(1, 10_000))
def test_hours_never_crash(text: str, maximum: int) -> None:
    try:
        minutes = parse_hours(text, maximum_minutes=maximum)
    except InvalidInput as refused:
        assert says_what_to_do(refused.sentence)
        return
    assert 1 <= minutes <= maximum


# ------------------------------------------------------------------------------------------
# Miles (tenths)
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "tenths"), [
    ("12", 120), ("12.5", 125), ("12.5 miles", 125), ("12.46", 125), ("1,000", 10_000),
    (".5", 5),
])
def test_miles_accepted(typed: str, tenths: int) -> None:
    assert parse_miles(typed) == tenths


@pytest.mark.parametrize(("typed", "expected"), [
    ("-3", "negative"), ("10 km", "in miles"), ("1000.1", "1,000 miles or less"),
    ("0", "no distance"), ("12.345", "one decimal place"), ("far", "e.g. 12.5"),
])
def test_miles_refused(typed: str, expected: str) -> None:
    sentence = refusal(parse_miles, typed)
    assert expected in sentence
    assert says_what_to_do(sentence)


@PROFILE
@given(HOSTILE_TEXT)
def test_miles_never_crash(text: str) -> None:
    try:
        tenths = parse_miles(text)
    except InvalidInput:
        return
    assert 1 <= tenths <= 10_000


# ------------------------------------------------------------------------------------------
# Dates and times
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "expected"), [
    ("14/03 19:00", london(2027, 3, 14, 19)),
    ("14/03/2027 19:00", london(2027, 3, 14, 19)),
    ("14/3 7pm", london(2027, 3, 14, 19)),
    ("14-03-27 19:00", london(2027, 3, 14, 19)),
    ("14.03.2027 19:00", london(2027, 3, 14, 19)),
    ("2027-03-14T19:00", london(2027, 3, 14, 19)),
    ("tomorrow 7pm", london(2027, 3, 11, 19)),
    ("Tomorrow at 19:30", london(2027, 3, 11, 19, 30)),
    ("tmrw 7.30pm", london(2027, 3, 11, 19, 30)),
    ("tomorrow 19.30", london(2027, 3, 11, 19, 30)),  # a dotted time is fine beside a date
    ("7pm tomorrow", london(2027, 3, 11, 19)),
    ("tomorrow 7 p.m.", london(2027, 3, 11, 19)),
    ("tomorrow 7\u202fPM", london(2027, 3, 11, 19)),  # iOS narrow no-break space
    ("next Tuesday 10am", london(2027, 3, 16, 10)),  # coming Tuesday is already next week
    ("tuesday 10am", london(2027, 3, 16, 10)),
    ("tues at 10am", london(2027, 3, 16, 10)),
    ("this wednesday 18:00", london(2027, 3, 10, 18)),  # today is Wednesday
    ("today 18:00", london(2027, 3, 10, 18)),
    ("tonight at 8", london(2027, 3, 10, 20)),
    ("tonight 7:30", london(2027, 3, 10, 19, 30)),
    ("tomorrow morning at 10", london(2027, 3, 11, 10)),
    ("sat at 3 in the afternoon", london(2027, 3, 13, 15)),
    ("friday at noon", london(2027, 3, 12, 12)),
    ("tomorrow at 12", london(2027, 3, 11, 12)),
    ("tomorrow at 19", london(2027, 3, 11, 19)),
    ("in 2 hours", dt.datetime(2027, 3, 10, 14, 0, tzinfo=UTC)),
    ("in 30 mins", dt.datetime(2027, 3, 10, 12, 30, tzinfo=UTC)),
    ("in 3 days at 5pm", london(2027, 3, 13, 17)),
    ("in a fortnight at 3pm", london(2027, 3, 24, 15)),
    ("the day after tomorrow at 10am", london(2027, 3, 12, 10)),
    ("2 days from now at 10am", london(2027, 3, 12, 10)),
    ("19:00", london(2027, 3, 10, 19)),  # a time alone means today
    ("now", NOW),
    ("14 March 7pm", london(2027, 3, 14, 19)),
    ("march 14th at 7pm", london(2027, 3, 14, 19)),
    ("14th of March at 7 pm", london(2027, 3, 14, 19)),
    ("7pm on the 14th of march.", london(2027, 3, 14, 19)),
    ("Sun 14 Mar 2027, 19:00", london(2027, 3, 14, 19)),  # format_when's own output
    ("03/04 10:00", london(2027, 4, 3, 10)),  # day first: 3 April (BST by then)
    ("14/01 10:00", london(2028, 1, 14, 10)),  # 55 days ago: next year's is meant
    ("1/1 9am", london(2028, 1, 1, 9)),
    ("monday next week 10am", london(2027, 3, 15, 10)),
    ("next week friday 7pm", london(2027, 3, 19, 19)),
    ("\uff11\uff14/\uff10\uff13 \uff11\uff19:\uff10\uff10", london(2027, 3, 14, 19)),
    ("\u200f14/03 19:00\u200e", london(2027, 3, 14, 19)),
    ("a week from tomorrow at 10am", london(2027, 3, 18, 10)),  # dateparser's, as a fallback
])
def test_when_accepted(typed: str, expected: dt.datetime) -> None:
    got = parse_when(typed, now=NOW)
    assert got == expected
    assert got.tzinfo is not None and got.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(("typed", "expected"), [
    ("", "Please type a date and time"),
    ("hello", "14/03 19:00"),
    ("a", "14/03 19:00"),
    ("03/04", "Please add a time, e.g. 03/04 19:00"),
    ("tomorrow", "Please add a time"),
    ("31/02 10:00", "There's no 31 February"),
    ("29/02/2027 10:00", "no 29 February in 2027"),
    ("03/14 10:00", "no month 14. Please put the day first"),
    ("32/01 10:00", "day first"),
    ("09/03 19:00", "(it was yesterday at 19:00)"),
    ("09/03 19:00", "add the year, e.g. 09/03/2028 19:00"),
    ("11:00", "(it was today at 11:00). Please give a time in the future, e.g. tomorrow 11:00"),
    ("yesterday 10am", "already passed"),
    ("last friday 3pm", "it was Friday 5 March at 15:00"),
    ("wednesday 10am", "Today is Wednesday. Do you mean today or next Wednesday (17 March)?"),
    ("next friday 10am", "Friday 12 March or Friday 19 March? Please type the date, "
                         "e.g. 12/03 10:00"),
    ("tomorrow 7", "Is 7 in the morning or the evening? Please add am or pm"),
    ("tomorrow at 7", "e.g. 7pm"),
    ("friday 14", "not sure what 14 means"),
    ("Tue 14/03/2027 19:00", "14 March 2027 is a Sunday, not a Tuesday"),
    ("7-9pm", "just the start time"),
    ("19:00-21:00", "just the start time"),
    ("7pm to 9pm", "just the start time"),
    ("14/03 or 15/03 19:00", "more than one date or time"),
    ("14/03 19:00 20:00", "more than one"),
    ("next week", "Which day?"),
    ("next week 10am", "Which day?"),
    ("next month", "Which day?"),
    ("this weekend 2pm", "Which day?"),
    ("march 7pm", "Which day in March?"),
    ("the 14th at 7pm", "Which month?"),
    ("midnight", "23:59, or 00:00"),
    ("tomorrow 12am", "Midnight"),
    ("tomorrow 25:00", "24-hour clock"),
    ("tomorrow 13pm", "valid time"),
    ("19:00 UTC", "without a time zone"),
    ("14.03", "dates with a slash"),
    ("14/03/2030 10:00", "too far ahead (Thu 14 Mar 2030, 10:00)"),
    ("14/03/1066 10:00", "check the year"),
    ("in 2 hours at 7pm", "more than one"),
    ("14/03/2027/5", "14/03 19:00"),
    ("sometime next week maybe", "14/03 19:00"),
    ("'; DROP TABLE engagements; --", "14/03 19:00"),
    ("1" * 201, "too long for a date"),
])
def test_when_refused(typed: str, expected: str) -> None:
    sentence = refusal(parse_when, typed, now=NOW)
    assert expected in sentence
    assert says_what_to_do(sentence)


def test_when_max_future_days() -> None:
    assert parse_when("16/03 10:00", now=NOW, max_future_days=7) == london(2027, 3, 16, 10)
    sentence = refusal(parse_when, "18/03 10:00", now=NOW, max_future_days=7)
    assert "within the next 7 days" in sentence


@pytest.mark.parametrize(("typed", "expected"), [
    ("03/03 19:00", london(2027, 3, 3, 19)),  # a week ago
    ("25/12 19:00", london(2026, 12, 25, 19)),  # nearest Christmas is last year's
    ("14/10 19:00", london(2026, 10, 14, 19)),  # 147 days ago beats 218 days ahead
    ("yesterday 10am", london(2027, 3, 9, 10)),
    ("last friday 3pm", london(2027, 3, 5, 15)),
    ("monday 10am", london(2027, 3, 8, 10)),  # nearest Monday: two days ago
    ("saturday 10am", london(2027, 3, 13, 10)),  # nearest Saturday: in three days
    ("wednesday 10am", london(2027, 3, 10, 10)),  # today, with past allowed
    ("2 days ago 10am", london(2027, 3, 8, 10)),
    ("3 hours ago", dt.datetime(2027, 3, 10, 9, 0, tzinfo=UTC)),
    ("11:00", london(2027, 3, 10, 11)),
])
def test_when_allow_past(typed: str, expected: dt.datetime) -> None:
    assert parse_when(typed, now=NOW, allow_past=True) == expected


def test_year_less_date_around_new_year() -> None:
    """On 2 January, "30/12" was three days ago: say so rather than jump to next December."""
    new_year = dt.datetime(2027, 1, 2, 12, 0, tzinfo=UTC)
    sentence = refusal(parse_when, "30/12 10:00", now=new_year)
    assert "it was Wednesday 30 December 2026 at 10:00" in sentence
    assert "30/12/2027 10:00" in sentence
    assert parse_when("30/12 10:00", now=new_year, allow_past=True) == london(2026, 12, 30, 10)
    assert parse_when("03/01 10:00", now=new_year) == london(2027, 1, 3, 10)
    # In December, January dates are next year's.
    december = dt.datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
    assert parse_when("03/01 10:00", now=december) == london(2027, 1, 3, 10)


def test_29_february_without_a_year() -> None:
    assert parse_when("29/02 10:00", now=NOW) == london(2028, 2, 29, 10)


def test_date_only() -> None:
    assert parse_when("14/03", now=NOW, date_only=True) == london(2027, 3, 14)
    assert parse_when("14/03 19:00", now=NOW, date_only=True) == london(2027, 3, 14)
    assert parse_date("14/03", now=NOW) == dt.date(2027, 3, 14)
    assert parse_date("tomorrow", now=NOW) == dt.date(2027, 3, 11)
    assert parse_date("today", now=NOW) == dt.date(2027, 3, 10)  # today is not "past"
    assert parse_date("friday", now=NOW) == dt.date(2027, 3, 12)
    assert parse_date("01/03", now=NOW, allow_past=True) == dt.date(2027, 3, 1)
    sentence = refusal(parse_date, "01/03", now=NOW)
    assert "That date has already passed (it was Monday 1 March)" in sentence
    assert "Please give a date from today onwards" in sentence
    assert "I couldn't read that as a date" in refusal(parse_date, "soon", now=NOW)


# --- the clocks: London, 2027 (forward 28 March 01:00 GMT, back 31 October 02:00 BST) ---

SPRING = dt.datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
AUTUMN = dt.datetime(2027, 10, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("now", "typed", "utc"), [
    (SPRING, "27/03 19:00", (2027, 3, 27, 19, 0)),  # GMT: same as UTC
    (SPRING, "28/03 00:59", (2027, 3, 28, 0, 59)),  # the last GMT minute
    (SPRING, "28/03 02:00", (2027, 3, 28, 1, 0)),  # the first BST minute
    (SPRING, "29/03 19:00", (2027, 3, 29, 18, 0)),  # BST: an hour ahead of UTC
    (AUTUMN, "30/10 19:00", (2027, 10, 30, 18, 0)),  # BST
    (AUTUMN, "31/10 00:30", (2027, 10, 30, 23, 30)),
    (AUTUMN, "31/10 01:30", (2027, 10, 31, 0, 30)),  # happens twice: the first (BST) one
    (AUTUMN, "31/10 01:59", (2027, 10, 31, 0, 59)),
    (AUTUMN, "31/10 02:00", (2027, 10, 31, 2, 0)),  # GMT again
    (AUTUMN, "01/11 19:00", (2027, 11, 1, 19, 0)),  # GMT
])
def test_clock_changes(now: dt.datetime, typed: str, utc: tuple[int, ...]) -> None:
    assert parse_when(typed, now=now) == dt.datetime(*utc, tzinfo=UTC)


@pytest.mark.parametrize("typed", ["28/03 01:00", "28/03 01:30", "28/03/2027 1:59am"])
def test_spring_gap_is_refused_and_explained(typed: str) -> None:
    sentence = refusal(parse_when, typed, now=SPRING)
    assert "Sunday 28 March" in sentence
    assert "the clocks go forward that night, from 01:00 to 02:00" in sentence
    assert "Please give a time before 01:00 or from 02:00" in sentence


def test_autumn_overlap_is_deterministic() -> None:
    first = parse_when("31/10 01:30", now=AUTUMN)
    assert all(parse_when("31/10 01:30", now=AUTUMN) == first for _ in range(3))
    assert first.astimezone(LONDON).tzname() == "BST"
    assert format_when(first) == "Sun 31 Oct 2027, 01:30"


def test_date_only_across_the_clock_change() -> None:
    assert parse_when("28/03", now=SPRING, date_only=True) == dt.datetime(2027, 3, 28, 0, 0,
                                                                          tzinfo=UTC)
    assert parse_when("29/03", now=SPRING, date_only=True) == dt.datetime(2027, 3, 28, 23, 0,
                                                                          tzinfo=UTC)


def test_other_time_zones() -> None:
    # A scheme elsewhere: New York in July is UTC-4.
    july = dt.datetime(2027, 7, 1, 12, 0, tzinfo=UTC)
    assert parse_when("02/07 19:00", now=july, tz="America/New_York") == dt.datetime(
        2027, 7, 2, 23, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_when("02/07 19:00", now=july, tz="Mars/Olympus_Mons")
    with pytest.raises(ValueError):
        parse_when("02/07 19:00", now=dt.datetime(2027, 7, 1))  # naive "now" is a bug


def test_format_when() -> None:
    assert format_when(dt.datetime(2027, 3, 14, 19, 0, tzinfo=UTC)) == "Sun 14 Mar 2027, 19:00"
    assert format_when(dt.datetime(2027, 7, 14, 18, 0, tzinfo=UTC)) == "Wed 14 Jul 2027, 19:00"
    # The database hands back naive UTC (SQLite): taken as UTC.
    assert format_when(dt.datetime(2027, 7, 14, 18, 0)) == "Wed 14 Jul 2027, 19:00"
    assert format_date(dt.date(2027, 3, 2)) == "Tue 2 Mar 2027"


def test_dateparser_trouble_becomes_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    class Exploding:
        def get_date_data(self, text: str) -> None:
            raise RecursionError("dateparser had a bad day")

    monkeypatch.setattr(parsers, "_dateparser_for", lambda base: Exploding())
    sentence = refusal(parse_when, "a week from tomorrow at 10am", now=NOW)
    assert "Which day?" in sentence or "couldn't read" in sentence


def test_dateparser_only_sees_date_shaped_text(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = parsers._dateparser_fallback

    def spy(text: str, ctx: object, unreadable: str) -> object:
        seen.append(text)
        return real(text, ctx, unreadable)  # type: ignore[arg-type]

    monkeypatch.setattr(parsers, "_dateparser_fallback", spy)
    for typed in ["a", "one", "hello there", "14/03/2027/5", "1" * 50, "\u00a3250", "\U0001f600",
                  "tomorrow 7pm", "14/03 19:00", "next tuesday 10am"]:
        try:
            parse_when(typed, now=NOW)
        except InvalidInput:
            pass
    assert seen == []


@PROFILE
@given(st.one_of(HOSTILE_TEXT, DATE_TEXT), NOWS, st.booleans(), st.booleans(),
       st.integers(0, 800))
def test_when_never_crashes(text: str, now: dt.datetime, allow_past: bool, date_only: bool,
                            max_future_days: int) -> None:
    try:
        got = parse_when(text, now=now, allow_past=allow_past, date_only=date_only,
                         max_future_days=max_future_days)
    except InvalidInput as refused:
        assert says_what_to_do(refused.sentence)
        return
    assert got.utcoffset() == dt.timedelta(0)
    if date_only:
        local = got.astimezone(LONDON)
        assert local.time() == dt.time(0)
        assert allow_past or local.date() >= now.astimezone(LONDON).date()
        assert (local.date() - now.astimezone(LONDON).date()).days <= max_future_days
    else:
        assert allow_past or got >= now
        assert got - now <= dt.timedelta(days=max_future_days)


@PROFILE
@given(st.one_of(HOSTILE_TEXT, DATE_TEXT), NOWS, st.booleans())
def test_parse_date_never_crashes(text: str, now: dt.datetime, allow_past: bool) -> None:
    try:
        got = parse_date(text, now=now, allow_past=allow_past)
    except InvalidInput:
        return
    today = now.astimezone(LONDON).date()
    assert allow_past or got >= today
    assert (got - today).days <= 366


@PROFILE
@given(NOWS, st.integers(1, 366 * 24 * 60 - 1))
def test_format_when_round_trip(now: dt.datetime, minutes_ahead: int) -> None:
    """What a summary shows can be typed back and means the same moment."""
    moment = (now + dt.timedelta(minutes=minutes_ahead)).replace(second=0, microsecond=0)
    assume(moment > now)
    local = moment.astimezone(LONDON)
    # The second 01:30 of an October night formats like the first; typing it gives the first.
    assume(local.replace(tzinfo=None, fold=0).replace(tzinfo=LONDON).utcoffset() ==
           local.utcoffset())
    assert parse_when(format_when(moment), now=now) == moment


# ------------------------------------------------------------------------------------------
# Free text
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "cleaned"), [
    ("  Met the parish council.  ", "Met the parish council."),
    ("a\x00b", "ab"),
    ("line one\r\nline two\rthree", "line one\nline two\nthree"),
    ("tab\there", "tab\there"),
    ("cafe\u0301", "caf\u00e9"),  # NFC
    ("\U0001f468\u200d\U0001f469\u200d\U0001f467 family day", "\U0001f468\u200d\U0001f469"
                                                             "\u200d\U0001f467 family day"),
    ("\u05e9\u05dc\u05d5\u05dd \u200fok", "\u05e9\u05dc\u05d5\u05dd \u200fok"),  # RTL kept
    ("<b>bold</b> & co", "<b>bold</b> & co"),  # renderers escape, not parsers
    ("lone \ud800 surrogate", "lone  surrogate"),
    ("\ufeffBOM", "BOM"),
    ("bell\x07 and del\x7f", "bell and del"),
    ("para\u2029graph", "para\ngraph"),
])
def test_text_cleaned(typed: str, cleaned: str) -> None:
    assert parse_text(typed, max_chars=2_000) == cleaned


@pytest.mark.parametrize(("typed", "kwargs", "expected"), [
    ("", {}, "Please type your answer; it can't be empty."),
    ("   \n\t ", {}, "can't be empty"),
    ("\u200b\u200d\x00", {}, "can't be empty"),
    ("x" * 10_000, {}, "That's 10,000 characters; the limit here is 2,000. Please shorten it."),
    ("x" * 2_001, {}, "That's 2,001 characters"),
    ("x" * 1_000_000, {}, "That's 1,000,000 characters"),
    ("short", {"min_chars": 20}, "That's 5 characters; please write at least 20."),
    ("", {"what": "summary"}, "Please type your summary"),
])
def test_text_refused(typed: str, kwargs: dict, expected: str) -> None:
    sentence = refusal(parse_text, typed, **{"max_chars": 2_000, **kwargs})
    assert expected in sentence


def test_text_at_the_limit() -> None:
    assert parse_text("x" * 2_000, max_chars=2_000) == "x" * 2_000


@pytest.mark.parametrize("typed", [None, "", "   \n\t ", "\u200b\u200d\x00", "\ufeff",
                                   "\u202e" * 50, "\x00"])
def test_clean_text_with_nothing_visible_is_empty(typed: str | None) -> None:
    """The office's reasons, names and notes are cleaned so (storage/operations), each with
    its own limit and sentence: text of only invisible characters counts as not given."""
    assert clean_text(typed) == ""


@PROFILE
@given(HOSTILE_TEXT)
def test_clean_text_keeps_what_parse_text_keeps(text: str) -> None:
    kept = clean_text(text)
    assert "\x00" not in kept and "\r" not in kept and kept == kept.strip()
    kept.encode("utf-8")
    try:
        assert parse_text(text, max_chars=1_000_000) == kept
    except InvalidInput:
        pass


@PROFILE
@given(HOSTILE_TEXT, st.integers(1, 300))
def test_text_never_crashes(text: str, max_chars: int) -> None:
    try:
        got = parse_text(text, max_chars=max_chars)
    except InvalidInput as refused:
        assert refused.sentence.startswith(("Please type your", "That's"))
        return
    assert 1 <= len(got) <= max_chars
    assert got == got.strip()
    got.encode("utf-8")  # storable: no lone surrogates
    assert "\x00" not in got and "\r" not in got


# Nothing a person could read: symbols, punctuation, emoji, spaces and joiners only.
WORDLESS = st.text(st.characters(categories=("So", "Sm", "Sk", "Po", "Ps", "Pe", "Pd", "Zs",
                                             "Cf", "Mn")), min_size=1, max_size=40)


@PROFILE
@given(WORDLESS)
def test_text_without_a_letter_or_digit_is_refused_with_a_sentence(typed: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_text(typed, max_chars=2_000, what="organisation")
    assert refused.value.sentence.startswith("Please type your organisation")


@PROFILE
@given(WORDLESS, st.sampled_from(["a", "7", "é", "ש", "١"]), WORDLESS)
def test_one_letter_or_digit_among_emoji_is_an_answer(before: str, word: str,
                                                      after: str) -> None:
    got = parse_text(before + word + after, max_chars=2_000)
    assert any(ch.isalnum() for ch in got)  # kept (an accent may join the letter: NFC)


NAMES = st.text(st.characters(categories=("Lu", "Ll"), max_codepoint=0x24F), min_size=1,
                max_size=30)
GB_NUMBERS = st.one_of(
    st.from_regex(r"07[0-9]{3} [0-9]{6}", fullmatch=True),           # mobiles
    st.from_regex(r"01[0-9]{3} [0-9]{6}", fullmatch=True),           # area codes
    st.from_regex(r"\+44 ?7[0-9]{3} ?[0-9]{6}", fullmatch=True),
)


@PROFILE
@given(NAMES, st.sampled_from([", ", " ", " - ", " on ", "\n"]), GB_NUMBERS)
def test_a_contact_with_a_phone_number_is_kept_as_typed(name: str, between: str,
                                                        number: str) -> None:
    assert parse_contact(name + between + number) == name + between + number


@PROFILE
@given(NAMES, st.emails())
def test_a_contact_with_an_email_address_is_kept(name: str, address: str) -> None:
    typed = f"{name} {address}"
    assume(len(typed) <= 300)
    assert parse_contact(typed) == typed


@PROFILE
@given(st.text(st.characters(categories=("Lu", "Ll", "Zs"), include_characters=",.;!'"),
               min_size=1, max_size=80),
       st.one_of(st.none(), st.integers(0, 999_999).map(str), st.sampled_from(
           ["999", "101", "2026", "14/03/2026", "@", "sam@", "sam@home", "x@y."])))
def test_a_contact_with_no_way_to_reach_them_is_refused(words: str, extra: str | None) -> None:
    typed = words if extra is None else f"{words} {extra}"
    with pytest.raises(InvalidInput) as refused:
        parse_contact(typed)
    assert refused.value.sentence.startswith(("Please include a phone number",
                                              "Please type your contact"))


@PROFILE
@given(HOSTILE_TEXT)
def test_contact_never_crashes(typed: str) -> None:
    try:
        got = parse_contact(typed)
    except InvalidInput as refused:
        assert refused.sentence.startswith(("Please include", "Please type your contact",
                                            "That's"))
        return
    assert 1 <= len(got) <= 300


# ------------------------------------------------------------------------------------------
# Yes / no, choices
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["yes", "Y", "YEAH", "yep", "Yes please", "yes!", "ok",
                                   "\U0001f44d", "\U0001f44d\U0001f3fd", "\uff59\uff45\uff53"])
def test_yes(typed: str) -> None:
    assert parse_yes_no(typed) is True


@pytest.mark.parametrize("typed", ["no", "N", "nope", "Nah", "no thanks.", "\U0001f44e"])
def test_no(typed: str) -> None:
    assert parse_yes_no(typed) is False


@pytest.mark.parametrize("typed", ["maybe", "", "yes no", "yess" * 100])
def test_yes_no_refused(typed: str) -> None:
    assert refusal(parse_yes_no, typed) == "Please answer yes or no."


AREAS = ["Shropshire", "Telford and Wrekin", "Herefordshire", "Worcestershire"]
ESSEX = ["Basildon", "Braintree", "Brentwood", "Castle Point", "Southend-on-Sea"]


@pytest.mark.parametrize(("typed", "options", "chosen"), [
    ("Shropshire", AREAS, "Shropshire"),
    ("  SHROPSHIRE ", AREAS, "Shropshire"),
    ("shrop", AREAS, "Shropshire"),
    ("telford & wrekin", AREAS, "Telford and Wrekin"),
    ("telford  and   wrekin", AREAS, "Telford and Wrekin"),
    ("wrekin", AREAS, "Telford and Wrekin"),  # a unique word prefix
    ("h", AREAS, "Herefordshire"),
    ("southend on sea", ESSEX, "Southend-on-Sea"),
    ("brent", ESSEX, "Brentwood"),
    ("\uff33\uff48\uff52\uff4f\uff50", AREAS, "Shropshire"),
])
def test_choice(typed: str, options: list[str], chosen: str) -> None:
    assert parse_choice(typed, options) == chosen


def test_choice_refusals_list_the_options() -> None:
    assert refusal(parse_choice, "Powys", AREAS) == (
        "Please choose one of: Shropshire, Telford and Wrekin, Herefordshire or "
        "Worcestershire.")
    assert refusal(parse_choice, "b", ESSEX) == (
        "That could be Basildon, Braintree or Brentwood. Please type more of the name.")
    assert "Please choose one of" in refusal(parse_choice, "", AREAS)
    with pytest.raises(ValueError):
        parse_choice("x", [])


@PROFILE
@given(HOSTILE_TEXT, st.lists(st.text(HOSTILE_CHAR, min_size=1, max_size=20), min_size=1,
                              max_size=8))
def test_choice_never_crashes(text: str, options: list[str]) -> None:
    try:
        assert parse_choice(text, options) in options
    except InvalidInput:
        pass


@PROFILE
@given(HOSTILE_TEXT)
def test_yes_no_never_crashes(text: str) -> None:
    try:
        assert parse_yes_no(text) in (True, False)
    except InvalidInput as refused:
        assert refused.sentence == "Please answer yes or no."


def test_dateparser_time_typed_at_that_very_time() -> None:
    """dateparser reports no time when the time typed equals "now"'s; we must not lose it."""
    ten = dt.datetime(2027, 3, 11, 10, 0, tzinfo=UTC)
    assert parse_when("a week from tomorrow at 10am", now=ten) == london(2027, 3, 19, 10)
    assert "Please add a time" in refusal(parse_when, "a week from tomorrow", now=ten)
