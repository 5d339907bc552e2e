"""Parsers: what people type on a phone, turned into values (DESIGN §4, §7).

Telegram and Slack share these, so `£1,000.50` or `31/02 19:00` is refused with the same
sentence whichever door it comes in by. Every parser is pure (no I/O, no database) and raises
only `InvalidInput`, whose `.sentence` says plainly what to type instead. Arguments that are the
programmer's to choose (caps, limits, option lists, `now`, the time zone) raise `ValueError`
when they are wrong: that is a bug to fix, not something to tell a person.

Hostile input: anything meant to be a number, amount, duration, date or choice is refused
when it is longer than `MAX_SHORT_INPUT` characters *before* any regular expression or
dateparser sees it, and it is folded to plain ASCII first (full-width and other-script digits
become 0-9, invisible format characters such as RTL marks and zero-width joiners are dropped,
odd spaces and dashes become ordinary ones). Whatever is still not ASCII after that is refused
as unreadable, so the patterns below only ever run over short ASCII strings (and are written
without nested repetition, so they cannot backtrack catastrophically).

Decisions on the ambiguous cases (documented here because handlers and tests depend on them):

Money
  * `£250`, `250`, `£ 250`, `GBP 250`, `250 GBP`, `250 pounds`, `£1,000.00`, `250.5`, `.50`
    are accepted. Commas must be thousands separators (`1,000`, not `1,00`).
  * `250p` / `250 pence` is accepted as pence (= £2.50): that is what it means in Britain, and
    the summary shows `£2.50`, so a slip is caught before Submit. `£250p` and `2.50p` are refused.
  * `1k`, `£2 grand`, `1e3` are refused (write it in full); other currencies are refused.
  * Anything of a billion pounds or more is refused as "too large to be right".

Counts
  * `~40`, `about 40`, `around 40`, `c. 40`, `40+`, `40ish`, `40 or so`, `40 people` are
    accepted as 40: audiences are estimates anyway. `none`, `nobody`, `zero` mean 0.
    Ranges (`30-40`) are refused with the midpoint offered as an example.

Hours
  * A bare number is hours (`2` = 2 hours, `1.5` = 90 minutes); decimal hours are rounded to the
    nearest minute (`1.33` = 80 minutes). Minutes need a unit (`90m`, `90 mins`).
  * `1:30` is hours:minutes. In `1h 90m` the minutes must be under 60.

Miles (`parse_miles`, for mileage claims; tenths of a mile, as the expenses operation stores)
  * `12`, `12.5`, `12.5 miles`; two decimals round to the nearest tenth; kilometres refused.

Dates and times (`parse_when`)
  * Dates are always day first: `03/04` is 3 April. `14.03.2027` is fine, but `14.03` alone
    is refused (is it a date or 14:03?). `19.30` is a time only next to a date (`tomorrow 19.30`).
  * A date without a year means the next time that date comes round, *unless* that date fell
    within the last `RECENT_PAST_DAYS` days: then the person almost certainly meant the recent
    one (a slip, or a late report), so with `allow_past=False` they are told it has passed (and
    how to say next year if they really meant it) rather than silently moved a year ahead.
    With `allow_past=True` the nearest occurrence, past or future, is used.
  * A weekday (`tuesday 10am`) means the coming one. On a Tuesday, a bare `tuesday` is
    ambiguous (today or next week?) and is refused with both dates offered; `this tuesday` is
    today. `next tuesday` is the coming Tuesday when that already lies in next week
    (Monday-to-Sunday weeks); when the coming Tuesday is still this week, British speakers
    split on what "next" means, so we refuse and offer both dates. `last tuesday` is the most
    recent one before today. With `allow_past=True` a bare weekday is the nearest one.
    `monday next week` is the Monday of next (Monday-to-Sunday) week. `next week`,
    `next month`, `this weekend` name no day and are refused with "Which day?".
  * A time alone (`19:00`) means today; if that has passed the person is told so and shown
    `tomorrow 19:00` as the way to say the next one.
  * An hour without am/pm (`tomorrow at 7`) is refused as ambiguous unless a part of the day
    says which (`tonight at 7`, `7 in the morning`) or it is 13-23 (`at 19`); `at 12` is noon.
  * `midnight` and `12am` are refused (start or end of the day?); `00:00` is accepted.
  * A weekday given with a date must agree with it (`Tue 14/03/2027` is refused: it is a Sunday).
  * `in 2 hours`, `in 30 minutes`, `in 3 days at 5pm`, `2 days ago`, `now` are accepted.
  * Ranges (`7-9pm`, `19:00-21:00`) are refused: give the start time.
  * Spring-forward gap: a local time that does not exist (01:30 on the last Sunday of March in
    London) is refused with the clock change explained. Autumn overlap: a local time that happens
    twice (01:30 on the last Sunday of October) is taken as the *first* occurrence (BST), always.
  * With `date_only=True` a time, if typed, is ignored; the result is local midnight as UTC.
  * `not_before` (how far back a report may go: the scheme's start, or `report_within_days`
    ago, see `Scheme.earliest_report`) refuses an earlier moment with the earliest one allowed,
    in the scheme's time zone. `01/01/1970 00:00` is a real date, just not one to report.
  * Our own tokeniser handles the common forms (and is about 15-25 µs a call). Only text made
    of tokens it knows, with at least one date word, but in an order it does not (`a week
    from tomorrow at 10am`), goes to dateparser: English only, day first, future-preferring,
    its relative and absolute parsers only (so digit strings are never read as timestamps),
    and its answer goes through exactly the same checks. dateparser's answer has no weekday
    or "recent past" checks, so it is the fallback, never the first reader.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from storage.errors import InvalidInput

__all__ = [
    "MAX_PENCE",
    "MAX_SHORT_INPUT",
    "RECENT_PAST_DAYS",
    "format_date",
    "format_hours",
    "format_money",
    "format_when",
    "over_cap_sentence",
    "parse_choice",
    "parse_contact",
    "parse_count",
    "parse_date",
    "parse_hours",
    "parse_miles",
    "parse_money",
    "parse_text",
    "parse_when",
    "parse_yes_no",
    "warm_up",
]

#: Longest input we will even look at for numbers, amounts, durations, dates and choices.
#: Nobody types 200 characters for a date; refusing first keeps every later step cheap.
MAX_SHORT_INPUT = 200

#: Amounts of a billion pounds or more are refused as typing slips (and stay well inside a
#: 64-bit integer column).
MAX_PENCE = 1_000_000_000 * 100 - 1

#: A year-less date this many days ago or fewer is read as "the recent one" (see module doc).
RECENT_PAST_DAYS = 31

_UTC = dt.timezone.utc

# Locale-independent names: strftime's %a/%b follow the process locale, and a summary must
# read the same on every server.
_DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAME = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_ABBR = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun",
               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NAME = ("", "January", "February", "March", "April", "May", "June", "July",
               "August", "September", "October", "November", "December")


# --------------------------------------------------------------------------------------------
# Folding: any Unicode in, short plain ASCII (plus £) out
# --------------------------------------------------------------------------------------------

_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")
_APOSTROPHES = frozenset("\u2018\u2019\u02bc\u2032\uff07")
_POUND_SIGNS = frozenset("\uffe1")
_COLONS = frozenset("\u2236\ua789\ufe55")


def _fold(text: str) -> str:
    """Lower-case, whitespace-collapsed text with look-alike characters made plain.

    Phones produce full-width digits (Japanese/Chinese keyboards), other-script digits, NBSP
    and narrow NBSP (iOS puts U+202F before "PM"), invisible RTL marks and joiners, and
    typographic dashes and apostrophes. Mapping these keeps `１４/０３ １９:００` and `−5` from
    being refused for the wrong reason (−5 must be refused for being negative).
    """
    if text.isascii():
        folded = text
    else:
        out: list[str] = []
        for ch in text:
            code = ord(ch)
            if code < 0x80:
                out.append(ch)
            elif 0xFF01 <= code <= 0xFF5E:  # full-width ASCII
                out.append(chr(code - 0xFEE0))
            elif ch in _DASHES:
                out.append("-")
            elif ch in _APOSTROPHES:
                out.append("'")
            elif ch in _POUND_SIGNS:
                out.append("\u00a3")
            elif ch in _COLONS:
                out.append(":")
            else:
                category = unicodedata.category(ch)
                if category == "Nd":
                    out.append(str(unicodedata.decimal(ch)))
                elif category in ("Zs", "Zl", "Zp", "Cc"):
                    out.append(" ")
                elif category == "Cf" or ch == "\ufe0f" or ch == "\ufe0e":
                    continue  # invisible: direction marks, joiners, variation selectors
                else:
                    out.append(ch)
        folded = "".join(out)
    # split() without arguments treats ASCII control characters (NUL, tab, newline) as
    # whitespace only for \t\n\v\f\r\x1c-\x1f; map the rest of C0 and DEL to spaces first.
    folded = folded.translate(_C0_TO_SPACE)
    return " ".join(folded.lower().split())


_C0_TO_SPACE = {i: " " for i in (*range(0x00, 0x20), 0x7F)}


def _short(text: str, too_long: str) -> str:
    """Fold `text`, refusing it unread when it is far too long to be what was asked for."""
    if len(text) > MAX_SHORT_INPUT:
        raise InvalidInput(too_long)
    return _fold(text)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


# --------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------

_MONEY_EXAMPLE = "e.g. £250 or £250.50"
_MONEY_UNREADABLE = ("I couldn't read that as an amount. Please type it in figures, "
                     f"{_MONEY_EXAMPLE}.")
_MONEY_EMPTY = f"Please type an amount, {_MONEY_EXAMPLE}."
_MONEY_TOO_LONG = "That's too long to be an amount. Please type just the amount, e.g. £250."
_MONEY_NEGATIVE = "The amount can't be negative. Please type it without a minus sign, e.g. £250."
_MONEY_IN_FULL = "Please write the amount out in full, e.g. £1,000 rather than £1k."
_MONEY_DECIMALS = ("That has more than two decimal places. Please give pounds and pence, "
                   "e.g. £1,000.50.")
_MONEY_COMMAS = ("The commas in that amount look out of place. Please type it like £1,000 "
                 "or 1000, with a full stop before the pence, e.g. £250.50.")
_MONEY_CURRENCY = "Please give the amount in pounds, e.g. £250."
_MONEY_TOO_LARGE = "That amount is too large to be right. Please check it and type it again."
_MONEY_ZERO = "The amount can't be £0. Please enter an amount greater than zero, e.g. £250."
_MONEY_BOTH = "Please give the amount in pounds (£2.50) or in pence (250p), not both."
_MONEY_PENCE_WHOLE = "Pence should be a whole number, e.g. 250p, or give pounds, e.g. £2.50."

_FOREIGN_CURRENCY = re.compile(r"[$\u20ac\u00a5]|\b(?:usd|eur|euros?|dollars?|cents?)\b", re.A)
_ABBREVIATED = re.compile(r"[0-9.]\s*(?:k|m|mn|bn|grand|thousand|million|billion)$", re.A)
_EXPONENT = re.compile(r"[0-9.]e[+-]?[0-9]", re.A)
_MONEY = re.compile(
    r"(?P<minus1>-)?\s*(?P<cur>\u00a3|gbp)?\s*(?P<minus2>-)?\s*"
    r"(?P<int>[0-9][0-9,]*)?(?:\.(?P<frac>[0-9]*))?"
    r"\s*(?P<suffix>p|pence|gbp|pounds?|quid)?",
    re.A,
)
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+", re.A)


def format_money(pence: int) -> str:
    """`125050` → `"£1,250.50"`; whole pounds have no pence (`"£1,000"`); negatives `"-£5"`.

    The output always parses back: `parse_money(format_money(p)) == p` for 1 ≤ p ≤ MAX_PENCE.
    """
    sign = "-" if pence < 0 else ""
    pounds, rest = divmod(abs(int(pence)), 100)
    return f"{sign}£{pounds:,}" + (f".{rest:02d}" if rest else "")


def over_cap_sentence(amount_pence: int, cap_pence: int, what: str = "a grant") -> str:
    """The one sentence for "too much", shared by the parser and storage operations.

    >>> over_cap_sentence(100050, 100000)
    '£1,000.50 is over the £1,000 limit for a grant. Please enter £1,000 or less.'
    """
    cap = format_money(cap_pence)
    return (f"{format_money(amount_pence)} is over the {cap} limit for {what}. "
            f"Please enter {cap} or less.")


def parse_money(text: str, *, cap_pence: int | None = None, allow_zero: bool = False) -> int:
    """What someone typed as an amount of money → integer pence.

    Accepts `£1,000`, `1000`, `£250.50`, `250.5`, ` 250 `, `£ 250`, `GBP 250`, `250p` (pence).
    Refuses negatives, `1k`, `1e3`, more than two decimal places, misplaced commas, letters,
    other currencies, £0 (unless `allow_zero`), a billion pounds or more, and anything over
    `cap_pence` (with `over_cap_sentence`).
    """
    if cap_pence is not None and cap_pence < 0:
        raise ValueError("cap_pence must not be negative")
    s = _short(text, _MONEY_TOO_LONG)
    if not s:
        raise InvalidInput(_MONEY_EMPTY)
    if _FOREIGN_CURRENCY.search(s):
        raise InvalidInput(_MONEY_CURRENCY)
    if _ABBREVIATED.search(s) or _EXPONENT.search(s):
        raise InvalidInput(_MONEY_IN_FULL)
    match = _MONEY.fullmatch(s)
    if match is None:
        if s.startswith("-") or s.startswith("(") or re.match(r"(?:\u00a3|gbp)\s*-", s):
            raise InvalidInput(_MONEY_NEGATIVE)
        raise InvalidInput(_MONEY_UNREADABLE)
    whole, frac = match["int"], match["frac"]
    if whole is None and not frac:
        raise InvalidInput(_MONEY_UNREADABLE)  # "£", ".", "gbp"
    if match["minus1"] or match["minus2"]:
        raise InvalidInput(_MONEY_NEGATIVE)
    whole = whole or "0"
    if "," in whole:
        if not _THOUSANDS.fullmatch(whole):
            raise InvalidInput(_MONEY_COMMAS)
        whole = whole.replace(",", "")
    whole = whole.lstrip("0") or "0"
    if match["suffix"] in ("p", "pence"):
        if match["cur"]:
            raise InvalidInput(_MONEY_BOTH)
        if frac is not None:
            raise InvalidInput(_MONEY_PENCE_WHOLE)
        if len(whole) > len(str(MAX_PENCE)):
            raise InvalidInput(_MONEY_TOO_LARGE)
        pence = int(whole)
    else:
        if frac is not None and len(frac) > 2:
            raise InvalidInput(_MONEY_DECIMALS)
        if len(whole) > 9:
            raise InvalidInput(_MONEY_TOO_LARGE)
        pence = int(whole) * 100 + int((frac or "").ljust(2, "0"))
    if pence > MAX_PENCE:
        raise InvalidInput(_MONEY_TOO_LARGE)
    if pence == 0 and not allow_zero:
        raise InvalidInput(_MONEY_ZERO)
    if cap_pence is not None and pence > cap_pence:
        raise InvalidInput(over_cap_sentence(pence, cap_pence))
    return pence


# --------------------------------------------------------------------------------------------
# Counts
# --------------------------------------------------------------------------------------------

_COUNT_APPROX = re.compile(
    r"(?:about|around|approx\.?|approximately|roughly|circa|c\.?|ca\.?|~|over|at least|"
    r"nearly|almost|est\.?|estimated)\s*",
    re.A,
)
_COUNT = re.compile(r"(?P<num>[0-9][0-9,]*)\s*(?:\+|plus|-?ish|or so|odd)?", re.A)
_COUNT_RANGE = re.compile(r"(?:[a-z.~]+\s*)?([0-9][0-9,]*)\s*(?:-|to|or)\s*([0-9][0-9,]*)", re.A)
_COUNT_NONE = frozenset({"none", "nobody", "no one", "noone", "zero", "nil", "nought"})


def parse_count(text: str, *, minimum: int = 0, maximum: int = 100_000,
                what: str = "people") -> int:
    """A whole number of something (people by default), from `minimum` to `maximum`.

    Accepts `40`, `1,200`, and estimates: `~40`, `about 40`, `c. 40`, `40+`, `40ish`,
    `40 people`; `none`/`nobody`/`zero` are 0. Refuses negatives, decimals, ranges, words and
    anything out of range.
    """
    if minimum > maximum:
        raise ValueError("minimum must not exceed maximum")
    example = max(minimum, min(40, maximum))
    in_figures = f"Please type the number of {what} in figures, e.g. {example:,}."
    s = _short(text, f"That's too long to be a number. {in_figures}")
    if not s:
        raise InvalidInput(in_figures)
    if s.startswith("-") or s.startswith("minus"):
        raise InvalidInput(f"The number can't be negative. {in_figures}")
    # "40 people" / "40 attendees": the unit is understood, so allow it.
    for unit in {what.lower(), "people", "persons", "attendees", "of them", "in total", "total"}:
        if unit and s.endswith(" " + unit):
            s = s[: -len(unit) - 1].rstrip()
    if s in _COUNT_NONE:
        n = 0
    else:
        ranged = _COUNT_RANGE.fullmatch(s)
        if ranged:
            low, high = (int(g.replace(",", "") or 0) for g in ranged.groups())
            middle = (low + high) // 2
            raise InvalidInput(f"Please give one number rather than a range, e.g. {middle:,}.")
        if re.search(r"[0-9]\.[0-9]|^\.[0-9]", s):
            raise InvalidInput(f"Please give a whole number of {what}, e.g. {example:,}.")
        approx = _COUNT_APPROX.match(s)
        body = s[approx.end():] if approx else s
        match = _COUNT.fullmatch(body)
        if match is None:
            raise InvalidInput(in_figures)
        digits = match["num"]
        if "," in digits:
            if not _THOUSANDS.fullmatch(digits):
                raise InvalidInput(f"The commas in that number look out of place. {in_figures}")
            digits = digits.replace(",", "")
        digits = digits.lstrip("0") or "0"
        if len(digits) > len(str(maximum)) + 1:
            raise InvalidInput(f"That's far more than {maximum:,} {what}. Please check the number.")
        n = int(digits)
    if n > maximum:
        raise InvalidInput(f"{n:,} is more than the {maximum:,} {what} allowed here. "
                           f"Please give a number up to {maximum:,}.")
    if n < minimum:
        raise InvalidInput(f"Please give a number from {minimum:,} to {maximum:,}.")
    return n


# --------------------------------------------------------------------------------------------
# Hours (durations) → minutes
# --------------------------------------------------------------------------------------------

_H_UNIT = r"(?:h|hr|hrs|hour|hours)"
_M_UNIT = r"(?:m|min|mins|minute|minutes)"
_HOURS_COLON = re.compile(r"([0-9]{1,6}):([0-9]{2})", re.A)
_HOURS_DECIMAL = re.compile(rf"([0-9]*)(?:\.([0-9]+))?\s*{_H_UNIT}?", re.A)
_HOURS_AND_MINUTES = re.compile(
    rf"([0-9]+)\s*{_H_UNIT}\s*(?:and\s*)?([0-9]+)\s*{_M_UNIT}?", re.A)
_MINUTES_ONLY = re.compile(rf"([0-9]+)\s*{_M_UNIT}", re.A)
_HOURS_WORDS = {
    "half an hour": 30, "half hour": 30, "a half hour": 30,
    "quarter of an hour": 15, "a quarter of an hour": 15, "quarter hour": 15,
    "an hour": 60, "one hour": 60, "1 hour": 60,
    "an hour and a half": 90, "hour and a half": 90, "one and a half hours": 90,
    "an hour and a quarter": 75, "an hour and three quarters": 105,
}
_HOURS_LIKE = "1h 30m, 1.5 or 90m"
_HOURS_EXAMPLE = f"e.g. {_HOURS_LIKE}"


def _long_duration(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(_plural(hours, "hour", "hours"))
    if mins or not hours:
        parts.append(_plural(mins, "minute", "minutes"))
    return " ".join(parts)


def format_hours(minutes: int) -> str:
    """Minutes as people write them: `90` → `"1h 30m"`, `120` → `"2h"`, `45` → `"45m"`.

    Parses back: `parse_hours(format_hours(m)) == m`.
    """
    hours, mins = divmod(int(minutes), 60)
    if hours and mins:
        return f"{hours}h {mins}m"
    return f"{hours}h" if hours else f"{mins}m"


def parse_hours(text: str, *, maximum_minutes: int = 24 * 60) -> int:
    """Time spent → whole minutes, from 1 to `maximum_minutes`.

    Accepts `2`, `1.5`, `1.25h`, `2 hours`, `1h30`, `1h 30m`, `1 hour and 30 minutes`, `90m`,
    `90 mins`, `0:45`, `1:30`, `half an hour`. A bare number is hours; decimal hours round to
    the nearest minute. Refuses 0, negatives, more than two decimal places, over the maximum.
    """
    if maximum_minutes < 1:
        raise ValueError("maximum_minutes must be at least 1")
    unreadable = f"I couldn't read that as time spent. Please type it like {_HOURS_LIKE}."
    s = _short(text, unreadable)
    if not s:
        raise InvalidInput(f"Please type the time spent, {_HOURS_EXAMPLE}.")
    if s.startswith("-"):
        raise InvalidInput(f"The time can't be negative. Please type it like {_HOURS_LIKE}.")
    bare_hours: int | None = None
    minutes: int
    if s in _HOURS_WORDS:
        minutes = _HOURS_WORDS[s]
    elif match := _HOURS_COLON.fullmatch(s):
        if int(match[2]) >= 60:
            raise InvalidInput("Please keep the minutes under 60, e.g. 1:30 or 2h 15m.")
        minutes = int(match[1]) * 60 + int(match[2])
    elif match := _HOURS_AND_MINUTES.fullmatch(s):
        if int(match[2]) >= 60:
            raise InvalidInput("With hours, the minutes should be under 60, e.g. 2h 30m, "
                               "or give minutes alone, e.g. 150m.")
        minutes = int(match[1]) * 60 + int(match[2])
    elif match := _MINUTES_ONLY.fullmatch(s):
        minutes = int(match[1])
    elif (match := _HOURS_DECIMAL.fullmatch(s)) and (match[1] or match[2]):
        whole, frac = match[1] or "0", match[2]
        if frac is not None and len(frac) > 2:
            raise InvalidInput("Please use at most two decimal places, e.g. 1.25, or hours "
                               "and minutes, e.g. 1h 15m.")
        if len(whole) > 7:
            minutes = maximum_minutes + 1  # clearly over; avoid building a huge int
        else:
            # Hundredths of an hour are 36 seconds; round half up to the minute.
            hundredths = int(whole) * 100 + int((frac or "").ljust(2, "0"))
            minutes = (hundredths * 60 + 50) // 100
            if frac is None:
                bare_hours = int(whole)
    elif re.search(r"[0-9],[0-9]", s):
        raise InvalidInput("Please use a full stop for part hours, e.g. 1.5, or type 1h 30m.")
    elif re.fullmatch(rf"[0-9]*\.[0-9]+\s*{_M_UNIT}", s):
        raise InvalidInput("Please give whole minutes, e.g. 90m, or hours, e.g. 1.5.")
    else:
        raise InvalidInput(unreadable)
    if minutes == 0:
        raise InvalidInput(f"That's no time at all. Please give the time spent, {_HOURS_EXAMPLE}.")
    if minutes > maximum_minutes:
        limit = _long_duration(maximum_minutes)
        sentence = f"That is more than {limit} for one entry. Please give {limit} or less."
        if bare_hours is not None and bare_hours <= maximum_minutes:
            sentence += f" If you meant {bare_hours} minutes, type {bare_hours}m."
        raise InvalidInput(sentence)
    return minutes


# --------------------------------------------------------------------------------------------
# Miles (mileage claims) → tenths of a mile
# --------------------------------------------------------------------------------------------

_MILES = re.compile(r"([0-9][0-9,]*)?(?:\.([0-9]*))?\s*(?:mi|mile|miles)?", re.A)
_KILOMETRES = re.compile(r"[0-9.]\s*(?:km|kms|kilometres?|kilometers?)$", re.A)


def parse_miles(text: str, *, maximum_tenths: int = 10_000) -> int:
    """Miles driven → tenths of a mile (`12.5` → 125), from 0.1 to `maximum_tenths` / 10.

    Accepts `12`, `12.5`, `12.5 miles`, `1,000`. Two decimal places are rounded to the nearest
    tenth (an odometer or map may give them); more are refused, as are kilometres.
    """
    if maximum_tenths < 1:
        raise ValueError("maximum_tenths must be at least 1")
    limit = f"{maximum_tenths / 10:,g}"
    like = "Please type the miles, e.g. 12.5."
    s = _short(text, f"That's too long to be a distance. {like}")
    if not s:
        raise InvalidInput(like)
    if s.startswith("-"):
        raise InvalidInput(f"The miles can't be negative. {like}")
    if _KILOMETRES.search(s):
        raise InvalidInput("Please give the distance in miles, e.g. 12.5 (1 km is about "
                           "0.6 miles).")
    match = _MILES.fullmatch(s)
    if match is None or not (match[1] or match[2]):
        raise InvalidInput(f"I couldn't read that as miles. {like}")
    whole, frac = (match[1] or "0"), match[2]
    if "," in whole:
        if not _THOUSANDS.fullmatch(whole):
            raise InvalidInput(f"The commas in that number look out of place. {like}")
        whole = whole.replace(",", "")
    whole = whole.lstrip("0") or "0"
    if frac is not None and len(frac) > 2:
        raise InvalidInput("Please give the miles to one decimal place, e.g. 12.5.")
    if len(whole) > len(str(maximum_tenths)):
        raise InvalidInput(f"That's more than {limit} miles. Please check the number.")
    hundredths = int(whole) * 100 + int((frac or "").ljust(2, "0"))
    tenths = (hundredths + 5) // 10
    if tenths == 0:
        raise InvalidInput(f"That's no distance at all. {like}")
    if tenths > maximum_tenths:
        raise InvalidInput(f"That's more than {limit} miles for one claim. Please give "
                           f"{limit} miles or less.")
    return tenths


# --------------------------------------------------------------------------------------------
# Free text
# --------------------------------------------------------------------------------------------

_NEWLINES = {0x0D: "\n", 0x85: "\n", 0x2028: "\n", 0x2029: "\n"}
# Control characters (category Cc) bar tab and newline, lone surrogates (Cs: they cannot be
# encoded as UTF-8, so the database write would fail) and the byte-order mark.
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff]")


def clean_text(text: str | None) -> str:
    """Free text as it is kept: `\\r\\n`, `\\r` and Unicode line separators become `\\n`,
    control characters (bar tab and newline), lone surrogates and the byte-order mark are
    removed, NFC-normalised and stripped; text with nothing visible left (only spaces and
    format characters such as RTL marks) is empty. No length or wording rule: the caller
    has its own. A NUL is refused by PostgreSQL, so nothing reaches the database uncleaned."""
    text = (text or "").replace("\r\n", "\n").translate(_NEWLINES)
    text = unicodedata.normalize("NFC", _UNWANTED.sub("", text)).strip()
    if all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text):
        return ""
    return text


def parse_text(text: str, *, max_chars: int, min_chars: int = 1, what: str = "answer") -> str:
    """Free text, cleaned: stripped, control characters removed, NFC-normalised.

    Newlines and tabs are kept; `\\r\\n`, `\\r` and Unicode line separators become `\\n`.
    Emoji, ZWJ sequences and right-to-left text are kept as typed. Length is counted in
    characters (code points) after cleaning. HTML is *not* escaped: renderers escape.
    """
    if min_chars < 1 or max_chars < min_chars:
        raise ValueError("need 1 <= min_chars <= max_chars")
    # Cheap bound first: a huge paste is refused without normalising it all.
    if len(text) > max_chars * 4 + 1_000:
        raise InvalidInput(f"That's {len(text):,} characters; the limit here is {max_chars:,}. "
                           "Please shorten it.")
    text = clean_text(text)
    if not text:
        raise InvalidInput(f"Please type your {what}; it can't be empty.")
    if len(text) > max_chars:
        raise InvalidInput(f"That's {len(text):,} characters; the limit here is {max_chars:,}. "
                           "Please shorten it.")
    if len(text) < min_chars:
        raise InvalidInput(f"That's {_plural(len(text), 'character', 'characters')}; please "
                           f"write at least {min_chars:,}.")
    # A 👍 or a row of dots is an acknowledgement, not an answer the office could read.
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise InvalidInput(f"Please type your {what} in words; emoji or punctuation on their "
                           "own can't be read by the office.")
    return text


# No nested or overlapping repetition (see the module doc): the dot after the first label of
# the domain is where the pattern must be, so it cannot backtrack far.
_EMAIL = re.compile(r"[^\s@]@[a-z0-9-]+\.[a-z0-9.-]*[a-z]", re.IGNORECASE)


def _dialable(number: phonenumbers.PhoneNumber) -> bool:
    """A number in use, or one of full length: Ofcom keeps 07700 900xxx and the like for
    examples, which people type when trying things, and they are not "valid" numbers; a
    year or a room number is too short to be either."""
    return phonenumbers.is_valid_number(number) or (
        len(phonenumbers.national_significant_number(number)) >= 10)


def parse_contact(text: str, *, max_chars: int = 300, region: str = "GB") -> str:
    """Free text that holds a way to reach someone: a valid phone number (UK when written
    without a country code) or an e-mail address, with a name around it if they like.

    A name alone, or a number that cannot be dialled, would leave the office with no way
    to reach the person, so it is refused with a sentence saying what to add."""
    text = parse_text(text, max_chars=max_chars, what="contact")
    if _EMAIL.search(text):
        return text
    if len(text) <= MAX_SHORT_INPUT * 2:  # the matcher's work grows with the text
        matches = phonenumbers.PhoneNumberMatcher(text, region,
                                                  leniency=phonenumbers.Leniency.POSSIBLE)
        if any(_dialable(m.number) for m in matches):
            return text
    raise InvalidInput("Please include a phone number (e.g. 07123 456789) or an e-mail "
                       "address, so the office can reach them.")


# --------------------------------------------------------------------------------------------
# Yes / no, and choices
# --------------------------------------------------------------------------------------------

_YES = frozenset({"yes", "y", "yeah", "yea", "yep", "yup", "ya", "aye", "sure", "ok", "okay",
                  "correct", "true", "yes please", "yes thanks", "\U0001f44d", "\u2705",
                  "\u2714"})
_NO = frozenset({"no", "n", "nope", "nah", "no thanks", "no thank you", "false",
                 "\U0001f44e", "\u274c", "\u2716"})
_SKIN_TONES = {c: None for c in range(0x1F3FB, 0x1F400)}


def parse_yes_no(text: str) -> bool:
    """`yes`/`y`/`yeah`/`yep`/👍 → True; `no`/`n`/`nope`/`nah`/👎 → False (any case)."""
    s = _short(text, "Please answer yes or no.").translate(_SKIN_TONES).strip(" .!?")
    if s in _YES:
        return True
    if s in _NO:
        return False
    raise InvalidInput("Please answer yes or no.")


def _choice_key(text: str) -> str:
    """Compare options loosely: case, spacing, '&' vs 'and', hyphens and apostrophes."""
    s = unicodedata.normalize("NFKC", text).casefold().replace("&", " and ")
    s = re.sub(r"['\u2019`]", "", s)
    s = re.sub(r"[\W_]+", " ", s)
    return " ".join(s.split())


def _list_options(options: Sequence[str]) -> str:
    items = list(options)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def parse_choice(text: str, options: Sequence[str]) -> str:
    """One of `options`, returned exactly as written in `options`.

    Matches ignore case, spacing and punctuation (`telford & wrekin` is `Telford and Wrekin`);
    a unique prefix is enough (`shrop`), and failing that a unique word prefix (`wrekin`).
    """
    if not options:
        raise ValueError("options must not be empty")
    listing = f"Please choose one of: {_list_options(options)}."
    if len(text) > MAX_SHORT_INPUT + max(len(o) for o in options):
        raise InvalidInput(listing)
    key = _choice_key(_fold(text))
    if not key:
        raise InvalidInput(listing)
    keys = [(_choice_key(option), option) for option in options]
    for option_key, option in keys:
        if option_key == key:
            return option
    for matches in (
        [option for option_key, option in keys if option_key.startswith(key)],
        [option for option_key, option in keys
         if any(word.startswith(key) for word in option_key.split())],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidInput(f"That could be {_list_options(matches)}. "
                               "Please type more of the name.")
    raise InvalidInput(listing)


# --------------------------------------------------------------------------------------------
# Dates and times
# --------------------------------------------------------------------------------------------

_WHEN_LIKE = "14/03 19:00 or tomorrow 7pm"
_WHEN_EXAMPLE = f"e.g. {_WHEN_LIKE}"
_DATE_LIKE = "14/03 or tomorrow"
_DATE_EXAMPLE = f"e.g. {_DATE_LIKE}"
_WHEN_UNREADABLE = f"I couldn't read that as a date and time. Please type it like {_WHEN_LIKE}."
_DATE_UNREADABLE = f"I couldn't read that as a date. Please type it like {_DATE_LIKE}."
_WHEN_TOO_LONG = f"That's too long for a date. Please type just the date and time, {_WHEN_EXAMPLE}."
_WHEN_TWO = f"That has more than one date or time in it. Please give just one, {_WHEN_EXAMPLE}."
_WHEN_RANGE = "Please give just the start time, e.g. 14/03 19:00."
_WHEN_MIDNIGHT = ("Midnight can mean the start or the end of a day. Please type 23:59, "
                  "or 00:00 with the next day's date.")
_WHEN_TIMEZONE = "Please give the local time without a time zone, e.g. 19:00."
_WHEN_DOTTED = "Please write times with a colon, e.g. 19:30, and dates with a slash, e.g. 14/03."
_WHEN_WHICH_DAY = f"Which day? Please give the day and time, {_WHEN_EXAMPLE}."
_WHEN_WHICH_MONTH = "Which month? Please type the date like 14/03 19:00."

_TOKEN = re.compile(
    r"""
      (?P<ymd>(?P<ymd_y>[0-9]{4})-(?P<ymd_m>[0-9]{1,2})-(?P<ymd_d>[0-9]{1,2}))(?![0-9])
    | (?P<dmy>(?P<dmy_d>[0-9]{1,2})(?P<sep>[/.-])(?P<dmy_m>[0-9]{1,2})(?P=sep)
              (?P<dmy_y>[0-9]{4}|[0-9]{2}))(?![0-9])
    | (?P<dm>(?P<dm_d>[0-9]{1,2})[/-](?P<dm_m>[0-9]{1,2}))(?![0-9/:.]|\s?[ap]\.?m\b)
    | (?P<hm>(?P<hm_h>[0-9]{1,2})(?P<hm_sep>[:.])(?P<hm_m>[0-9]{2})(?::[0-9]{2})?
             (?:\s?(?P<hm_ap>[ap])\.?m\b\.?)?)(?![0-9])
    | (?P<hap>(?P<hap_h>[0-9]{1,2})\s?(?P<hap_ap>[ap])\.?m\b\.?)
    | (?P<num>(?P<num_n>[0-9]{1,4})(?P<num_ord>st|nd|rd|th)?)(?![0-9])
    | (?P<word>[a-z]+(?:'[a-z]+)?)
    | (?P<punct>[,@&+-])
    | (?P<space>\s+)
    """,
    re.X | re.A,
)

_WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "weds": 2,
    "wednesday": 2, "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}
_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}
_DAY_WORDS = {"today": 0, "tonight": 0, "tomorrow": 1, "tmrw": 1, "tmw": 1, "tmr": 1,
              "tomorow": 1, "tommorow": 1, "tommorrow": 1, "yesterday": -1}
_MODIFIERS = frozenset({"this", "next", "last", "coming"})
_PARTS_OF_DAY = {"morning": "am", "afternoon": "afternoon", "evening": "evening",
                 "night": "evening", "tonight": "evening"}
#: "next month" names no day at all; "a week from tomorrow" does, so weeks go to dateparser.
_NO_DAY_WORDS = frozenset({"month", "months", "year", "years", "weekend", "weekends"})
_PERIOD_WORDS = frozenset({"week", "weeks", "fortnight"}) | _NO_DAY_WORDS
_UNITS = {
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes",
    "minutes": "minutes", "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours",
    "hours": "hours", "day": "days", "days": "days", "week": "weeks", "weeks": "weeks",
    "wk": "weeks", "wks": "weeks", "fortnight": "fortnights", "fortnights": "fortnights",
}
_TIMEZONES = frozenset({"utc", "gmt", "bst", "cet", "cest", "est", "edt", "pst", "pdt", "z",
                        "ist", "timezone"})
_FILLERS = frozenset({"at", "on", "the", "of", "for", "from", "by", "starting", "start",
                      "around", "about", "approx", "roughly", "ish", "@", ",", "&", "+", "and",
                      "in", "please", "pls"})
_RANGE_WORDS = frozenset({"to", "till", "til", "until", "-"})
_ALTERNATIVE_WORDS = frozenset({"or"})
#: Words we know to be about dates: only text containing one of these (or a digit) is worth
#: handing to dateparser, which otherwise reads "a" or "one" as the 1st of this month.
_DATE_VOCABULARY = frozenset(_WEEKDAYS) | frozenset(_MONTHS) | frozenset(_DAY_WORDS) | frozenset(
    _UNITS) | frozenset(_PERIOD_WORDS) | frozenset({"noon", "midday", "ago", "after", "next",
                                                    "last", "now"})


@dataclass(frozen=True)
class _Time:
    hour: int
    minute: int
    kind: str  # "colon" | "dot" | "meridiem" | "bare" ("at 7") | "loose" ("7") | "noon"
    meridiem: str | None = None  # "a" | "p"
    leading_zero: bool = False


@dataclass
class _Pieces:
    """What the tokeniser found; `_resolve` turns it into one local date and time."""

    explicit: list[tuple[int | None, int, int]] = field(default_factory=list)  # (y, m, d)
    weekdays: list[tuple[int, str | None]] = field(default_factory=list)  # (weekday, modifier)
    day_offsets: list[int] = field(default_factory=list)
    exact: list[dt.timedelta] = field(default_factory=list)  # from now: "in 2 hours", "now"
    times: list[_Time] = field(default_factory=list)
    hint: str | None = None  # part of the day: "am" | "afternoon" | "evening"
    ranged: bool = False
    alternatives: bool = False
    unknown: bool = False
    known: bool = False
    period: bool = False  # "a week from tomorrow": only dateparser may make a day of it
    week_offsets: list[int] = field(default_factory=list)  # "monday next week": +1

    @property
    def has_date(self) -> bool:
        return bool(self.explicit or self.weekdays or self.day_offsets)


@dataclass(frozen=True)
class _Ctx:
    now: dt.datetime  # aware, UTC
    zone: ZoneInfo
    today: dt.date  # local
    allow_past: bool
    date_only: bool
    max_future_days: int


@lru_cache(maxsize=32)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def _tokenise(s: str) -> list[tuple[str, re.Match[str]]] | None:
    """Split folded text into tokens; None when some character is not part of any token."""
    tokens: list[tuple[str, re.Match[str]]] = []
    pos = 0
    while pos < len(s):
        match = _TOKEN.match(s, pos)
        if match is None or match.end() == pos:
            return None
        kind = match.lastgroup
        # lastgroup names the last *closed* group, i.e. an inner group for the dated forms.
        for outer in ("ymd", "dmy", "dm", "hm", "hap", "num", "word", "punct", "space"):
            if match.group(outer) is not None:
                kind = outer
                break
        if kind != "space":
            tokens.append((str(kind), match))
        pos = match.end()
    return tokens


def _number_word(tokens: list[tuple[str, re.Match[str]]], i: int) -> int | None:
    """The count at tokens[i] for "in N hours": digits, or "a"/"an"/"one"."""
    if i >= len(tokens):
        return None
    kind, match = tokens[i]
    if kind == "num" and not match["num_ord"]:
        return int(match["num_n"])
    if kind == "word" and match[0] in ("a", "an", "one"):
        return 1
    return None


def _unit_at(tokens: list[tuple[str, re.Match[str]]], i: int) -> str | None:
    if i < len(tokens) and tokens[i][0] == "word":
        return _UNITS.get(tokens[i][1][0])
    return None


def _word_at(tokens: list[tuple[str, re.Match[str]]], i: int) -> str | None:
    if i < len(tokens) and tokens[i][0] in ("word", "punct"):
        return tokens[i][1][0]
    return None


def _delta(count: int, unit: str) -> dt.timedelta:
    if count > 10_000:
        raise InvalidInput(_WHEN_UNREADABLE)  # keeps timedelta arithmetic in range
    days = {"days": 1, "weeks": 7, "fortnights": 14}.get(unit)
    if days is not None:
        return dt.timedelta(days=count * days)
    return dt.timedelta(**{unit: count})


def _scan(s: str) -> _Pieces:  # noqa: C901 - one flat pass over the tokens reads best
    """Read the folded text into pieces, refusing outright what can never be right."""
    tokens = _tokenise(s)
    pieces = _Pieces()
    if tokens is None:
        pieces.unknown = True  # and not `known`: refused without asking dateparser
        return pieces
    i = 0
    n = len(tokens)
    previous_word: str | None = None
    while i < n:
        kind, match = tokens[i]
        text = match[0]
        i += 1
        if kind == "ymd":
            pieces.explicit.append((int(match["ymd_y"]), int(match["ymd_m"]), int(match["ymd_d"])))
            if _word_at(tokens, i) == "t":  # ISO 8601: 2027-03-14T19:00
                i += 1
        elif kind == "dmy":
            year = int(match["dmy_y"])
            if len(match["dmy_y"]) == 2:
                year += 2000
            pieces.explicit.append((year, int(match["dmy_m"]), int(match["dmy_d"])))
        elif kind == "dm":
            pieces.explicit.append((None, int(match["dm_m"]), int(match["dm_d"])))
        elif kind == "hm":
            pieces.times.append(_Time(
                int(match["hm_h"]), int(match["hm_m"]),
                "colon" if match["hm_sep"] == ":" or match["hm_ap"] else "dot",
                match["hm_ap"], match["hm_h"].startswith("0")))
        elif kind == "hap":
            pieces.times.append(_Time(int(match["hap_h"]), 0, "meridiem", match["hap_ap"]))
        elif kind == "num":
            number = int(match["num_n"])
            # "14 march", "14th of march"
            j = i + 1 if _word_at(tokens, i) == "of" else i
            month = _MONTHS.get(_word_at(tokens, j) or "")
            if month and len(match["num_n"]) <= 2:
                pieces.explicit.append((None, month, number))
                i = j + 1
                pieces.known = True
            elif (unit := _unit_at(tokens, i)) is not None:
                # "2 days ago", "2 hours from now"
                follow = _word_at(tokens, i + 1)
                sign = 0
                if follow == "ago":
                    sign, i = -1, i + 2
                elif follow == "from" and _word_at(tokens, i + 2) in ("now", "today"):
                    sign, i = 1, i + 3
                else:
                    pieces.unknown = True  # "a week from tomorrow": dateparser's
                    i += 1
                if sign:
                    delta = _delta(number, unit) * sign
                    if unit in ("hours", "minutes"):
                        pieces.exact.append(delta)
                    else:
                        pieces.day_offsets.append(delta.days)
                pieces.known = True
            elif len(match["num_n"]) == 4 and pieces.explicit and pieces.explicit[-1][0] is None:
                _, m, d = pieces.explicit.pop()
                pieces.explicit.append((number, m, d))  # "14 March 2027", "14/03 2027"
            elif match["num_ord"]:
                raise InvalidInput(_WHEN_WHICH_MONTH)
            else:
                clock = _word_at(tokens, i) in ("o'clock", "oclock")
                if clock:
                    i += 1
                if clock or previous_word in ("at", "@") or len(match["num_n"]) <= 2:
                    pieces.times.append(_Time(
                        number, 0, "bare" if (clock or previous_word in ("at", "@")) else "loose",
                        None, match["num_n"].startswith("0")))
                else:
                    pieces.unknown = True
        elif kind in ("word", "punct"):
            word = text
            if word in _MONTHS:
                pieces.known = True
                k = i + 1 if _word_at(tokens, i) == "the" else i
                if k < n and tokens[k][0] == "num" and len(tokens[k][1]["num_n"]) <= 2:
                    pieces.explicit.append((None, _MONTHS[word], int(tokens[k][1]["num_n"])))
                    i = k + 1
                else:
                    raise InvalidInput(f"Which day in {_MONTH_NAME[_MONTHS[word]]}? Please "
                                       f"type the date like 14/{_MONTHS[word]:02d} 19:00.")
            elif word in _WEEKDAYS:
                pieces.weekdays.append((_WEEKDAYS[word], None))
                pieces.known = True
            elif word in _MODIFIERS:
                pieces.known = True
                modifier = word
                follow = _word_at(tokens, i)
                if modifier == "this" and follow == "coming":
                    i += 1
                    follow = _word_at(tokens, i)
                if follow in _WEEKDAYS:
                    pieces.weekdays.append((_WEEKDAYS[follow], modifier))
                    i += 1
                elif follow == "week":
                    # "monday next week" / "next week monday": a day in that Monday-Sunday week
                    pieces.week_offsets.append({"this": 0, "next": 1, "last": -1}.get(modifier, 0))
                    i += 1
                elif follow in _PERIOD_WORDS:
                    raise InvalidInput(_WHEN_WHICH_DAY)
                elif follow in _PARTS_OF_DAY and modifier in ("this", "last"):
                    # "this evening" is today; "last night" is yesterday.
                    pieces.day_offsets.append(0 if modifier == "this" else -1)
                    pieces.hint = _PARTS_OF_DAY[follow]
                    i += 1
                else:
                    pieces.unknown = True
            elif word in _DAY_WORDS:
                pieces.day_offsets.append(_DAY_WORDS[word])
                pieces.known = True
                if word in _PARTS_OF_DAY:
                    pieces.hint = _PARTS_OF_DAY[word]
            elif word == "day" and _word_at(tokens, i) == "after" and \
                    _word_at(tokens, i + 1) == "tomorrow":
                pieces.day_offsets.append(2)
                pieces.known = True
                i += 2
            elif word == "in" and (count := _number_word(tokens, i)) is not None and \
                    (unit := _unit_at(tokens, i + 1)) is not None:
                pieces.known = True
                delta = _delta(count, unit)
                if unit in ("hours", "minutes"):
                    pieces.exact.append(delta)
                else:
                    pieces.day_offsets.append(delta.days)
                i += 2
            elif word == "in" and _word_at(tokens, i) == "half" and \
                    _word_at(tokens, i + 1) == "an" and _word_at(tokens, i + 2) == "hour":
                pieces.exact.append(dt.timedelta(minutes=30))
                pieces.known = True
                i += 3
            elif word in ("noon", "midday"):
                pieces.times.append(_Time(12, 0, "noon"))
                pieces.known = True
            elif word == "midnight":
                raise InvalidInput(_WHEN_MIDNIGHT)
            elif word in _PARTS_OF_DAY:
                pieces.hint = _PARTS_OF_DAY[word]
                pieces.known = True
            elif word == "now":
                pieces.exact.append(dt.timedelta(0))
                pieces.known = True
            elif word in _TIMEZONES:
                raise InvalidInput(_WHEN_TIMEZONE)
            elif word in _NO_DAY_WORDS:
                raise InvalidInput(_WHEN_WHICH_DAY)
            elif word in _PERIOD_WORDS:
                pieces.unknown = pieces.period = pieces.known = True
            elif word in _RANGE_WORDS:
                pieces.ranged = True
            elif word in _ALTERNATIVE_WORDS:
                pieces.alternatives = True
            elif word in _FILLERS:
                pass
            else:
                pieces.unknown = True
                if word in _DATE_VOCABULARY:
                    pieces.known = True
            previous_word = word
            continue
        previous_word = None
    return pieces


def _clock(time: _Time, hint: str | None) -> dt.time:
    """The 24-hour time meant by `time`, given any part-of-day hint."""
    hour, minute = time.hour, time.minute
    if minute > 59:
        raise InvalidInput("That isn't a valid time. Please use e.g. 19:00 or 7pm.")
    if time.kind == "noon":
        return dt.time(12, 0)
    if time.meridiem is not None:
        if not 1 <= hour <= 12:
            raise InvalidInput("That isn't a valid time. Please use e.g. 19:00 or 7pm.")
        if hour == 12 and minute == 0 and time.meridiem == "a":
            raise InvalidInput(_WHEN_MIDNIGHT)
        hour = hour % 12 + (12 if time.meridiem == "p" else 0)
        return dt.time(hour, minute)
    if hour > 23:
        raise InvalidInput("That isn't a valid time. Please use the 24-hour clock from 00:00 "
                           "to 23:59, e.g. 19:00, or add am or pm, e.g. 7pm.")
    pm = (hint == "evening" and 5 <= hour <= 11) or (hint == "afternoon" and 1 <= hour <= 7)
    if time.kind in ("colon", "dot"):
        if pm and not time.leading_zero:
            hour += 12
        return dt.time(hour, minute)
    # A bare hour ("at 7"): 13-23 and 12 (noon) are clear; 1-11 need a part of the day.
    if hour >= 13 or hour == 12:
        return dt.time(hour, 0)
    if hour == 0:
        raise InvalidInput(_WHEN_MIDNIGHT)
    if hint == "am":
        return dt.time(hour, 0)
    if pm:
        return dt.time(hour + 12, 0)
    raise InvalidInput(f"Is {hour} in the morning or the evening? Please add am or pm, "
                       f"e.g. {hour}pm, or use the 24-hour clock, e.g. {hour + 12}:00.")


def _date_or_refuse(year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        pass
    if not 1 <= month <= 12:
        raise InvalidInput(f"There's no month {month}. Please put the day first, e.g. 14/03 for "
                           "14 March.")
    if not 1 <= day <= 31:
        raise InvalidInput("That isn't a valid date. Please put the day first, e.g. 14/03 for "
                           "14 March.")
    if month == 2 and day == 29:
        raise InvalidInput(f"There's no 29 February in {year}. Please check the date.")
    raise InvalidInput(f"There's no {day} {_MONTH_NAME[month]}. Please check the date.")


def _resolve_yearless(month: int, day: int, ctx: _Ctx) -> tuple[dt.date, bool]:
    """The date meant by day/month without a year; the flag says "chose a recent past one"."""
    _date_or_refuse(2000, month, day)  # 2000 is a leap year: only impossible dates fail
    today = ctx.today
    candidates = []
    for year in range(today.year - 4, today.year + 9):  # wide enough to find a 29 February
        try:
            candidates.append(dt.date(year, month, day))
        except ValueError:
            continue
    past = max((c for c in candidates if c < today), default=None)
    future = min((c for c in candidates if c >= today), default=None)
    if future is None and past is None:  # pragma: no cover - 2000 proved the date exists
        raise InvalidInput(_WHEN_UNREADABLE)
    if ctx.allow_past:
        if future is None or (past is not None and (today - past) < (future - today)):
            return past, False  # type: ignore[return-value]
        return future, False
    if past is not None and (today - past).days <= RECENT_PAST_DAYS:
        return past, True
    if future is None:  # pragma: no cover - the range above always has a future one
        raise InvalidInput(_WHEN_UNREADABLE)
    return future, False


def _resolve_weekday(weekday: int, modifier: str | None, ctx: _Ctx,
                     time_text: str) -> dt.date:
    today = ctx.today
    ahead = (weekday - today.weekday()) % 7  # 0 = today
    name = _DAY_NAME[weekday]
    if modifier == "last":
        return today - dt.timedelta(days=ahead and (7 - ahead) or 7)
    if modifier == "next":
        if ahead == 0:
            return today + dt.timedelta(days=7)
        if weekday > today.weekday():  # the coming one is still this week: ambiguous
            first = today + dt.timedelta(days=ahead)
            second = first + dt.timedelta(days=7)
            raise InvalidInput(
                f"Do you mean {_long_date(first, today)} or {_long_date(second, today)}? "
                f"Please type the date, e.g. {first:%d/%m}{time_text}.")
        return today + dt.timedelta(days=ahead)
    if modifier == "this":
        return today + dt.timedelta(days=ahead)
    if modifier == "coming":
        return today + dt.timedelta(days=ahead or 7)
    if ctx.allow_past:
        # Nearest: up to 3 days ahead, otherwise the recent one (7 is odd, so no ties).
        return today + dt.timedelta(days=ahead) if ahead <= 3 else \
            today - dt.timedelta(days=7 - ahead)
    if ahead == 0:
        week_on = today + dt.timedelta(days=7)
        raise InvalidInput(
            f"Today is {name}. Do you mean today or next {name} ({week_on.day} "
            f"{_MONTH_NAME[week_on.month]})? "
            f"Please type today{time_text} or {week_on:%d/%m}{time_text}.")
    return today + dt.timedelta(days=ahead)


def _long_date(day: dt.date, today: dt.date | None = None) -> str:
    """`Tuesday 3 March`, with the year when it is not this year (or always, without today)."""
    text = f"{_DAY_NAME[day.weekday()]} {day.day} {_MONTH_NAME[day.month]}"
    return text if today is not None and day.year == today.year else f"{text} {day.year}"


def _describe_day(day: dt.date, today: dt.date) -> str:
    if day == today:
        return "today"
    if day == today - dt.timedelta(days=1):
        return "yesterday"
    return _long_date(day, today)


def _localise(local: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Local wall time → aware UTC, refusing times the clocks skip.

    Autumn overlap: fold=0 picks the first occurrence (e.g. 01:30 BST, not 01:30 GMT), which
    is deterministic and, for an engagement, the earlier (safer) reading.
    """
    utc = local.replace(tzinfo=zone, fold=0).astimezone(_UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == local:
        return utc
    # In the spring-forward gap. Find the change instant to say which hour is missing.
    low = local.replace(tzinfo=zone, fold=1).astimezone(_UTC)  # before the change
    high = utc  # after the change
    before = low.astimezone(zone).utcoffset()
    while high - low > dt.timedelta(minutes=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    change = high.replace(second=0, microsecond=0)
    if change.astimezone(zone).utcoffset() == before:
        change += dt.timedelta(minutes=1)
    jumps_from = (change + (before or dt.timedelta(0))).replace(tzinfo=None)
    jumps_to = change.astimezone(zone).replace(tzinfo=None)
    raise InvalidInput(
        f"There's no {local:%H:%M} on {_long_date(local.date())}: the clocks go forward "
        f"that night, from {jumps_from:%H:%M} to {jumps_to:%H:%M}. Please give a time before "
        f"{jumps_from:%H:%M} or from {jumps_to:%H:%M}.")


# dateparser: the settings never change except RELATIVE_BASE, so the parser object is cached
# per minute of "now" (a burst of messages reuses it).
_DATEPARSER_SETTINGS: dict[str, Any] = {
    "DATE_ORDER": "DMY",
    "PREFER_DATES_FROM": "future",
    # We localise ourselves with zoneinfo, so that the spring gap is refused and the autumn
    # overlap is resolved the same way as for our own tokeniser.
    "RETURN_AS_TIMEZONE_AWARE": False,
    "RETURN_TIME_AS_PERIOD": True,
    # No 'timestamp' (digits read as seconds since 1970) and no 'no-spaces-time' ("1403").
    "PARSERS": ["relative-time", "absolute-time"],
}


@lru_cache(maxsize=4)
def _dateparser_for(base: dt.datetime) -> Any:
    from dateparser.date import DateDataParser  # slow import; only when first needed

    return DateDataParser(languages=["en"], try_previous_locales=False,
                          settings={**_DATEPARSER_SETTINGS, "RELATIVE_BASE": base})


def _dateparser_fallback(s: str, ctx: _Ctx, unreadable: str) -> tuple[dt.date, dt.time | None]:
    """Ask dateparser about text our tokeniser did not recognise; only InvalidInput escapes."""
    local_now = ctx.now.astimezone(ctx.zone).replace(tzinfo=None, second=0, microsecond=0)
    try:
        data = _dateparser_for(local_now).get_date_data(s)
        found, period = data.date_obj, data.period
        parts = tuple(getattr(data, "parts", None) or ())
    except Exception:  # noqa: BLE001 - dateparser raises odd things on odd text
        raise InvalidInput(unreadable) from None
    if not isinstance(found, dt.datetime) or found.tzinfo is not None:
        raise InvalidInput(unreadable)
    # period is "time" only when the typed time differs from RELATIVE_BASE's, so "at 10am"
    # typed at 10:00 would look like no time at all; `parts` records that a time was given.
    if period == "time" or "time" in parts:
        return found.date(), found.time().replace(second=0, microsecond=0)
    if period == "day":
        return found.date(), None
    raise InvalidInput(_WHEN_WHICH_DAY)  # "in a week", "next month": which day, then?


def _check_year(day: dt.date, ctx: _Ctx) -> None:
    if abs(day.year - ctx.today.year) > 100:
        raise InvalidInput("Please check the year, e.g. 14/03/2027 19:00.")


def _parse_local(text: str, ctx: _Ctx) -> tuple[dt.datetime | dt.date, bool]:
    """The moment meant: aware UTC for "in 2 hours"/"now", else a local date or date-time.

    The flag says a year-less date was read as a recent past one (for the refusal's hint).
    """
    # A closing full stop or exclamation mark is punctuation, not part of the date.
    s = _short(text, _WHEN_TOO_LONG).rstrip(".!? ")
    unreadable = _DATE_UNREADABLE if ctx.date_only else _WHEN_UNREADABLE
    if not s or not s.isascii():
        raise InvalidInput(unreadable if s else (
            f"Please type a date, {_DATE_EXAMPLE}." if ctx.date_only else
            f"Please type a date and time, {_WHEN_EXAMPLE}."))
    pieces = _scan(s)
    if pieces.unknown:
        # Only text made of tokens we know, with at least one date word among them, goes to
        # dateparser: otherwise it reads "a" or "one" as the 1st of this month, and stray
        # digits as whatever it can.
        if not pieces.known:
            raise InvalidInput(unreadable)
        if pieces.ranged and len(pieces.times) > 1:
            raise InvalidInput(_WHEN_RANGE)
        day, clock = _dateparser_fallback(s, ctx, _WHEN_WHICH_DAY if pieces.period else unreadable)
        _check_year(day, ctx)
        if clock is None:
            return day, False
        return dt.datetime.combine(day, clock), False

    if len(pieces.times) > 1:
        raise InvalidInput(_WHEN_RANGE if pieces.ranged else _WHEN_TWO)
    if pieces.exact:
        if len(pieces.exact) > 1 or pieces.has_date or pieces.times:
            raise InvalidInput(_WHEN_TWO)
        moment = ctx.now + pieces.exact[0]
        if pieces.exact[0]:
            moment = moment.replace(second=0, microsecond=0)  # "in 2 hours" to the minute
        return moment, False

    time = pieces.times[0] if pieces.times else None
    if time is not None and time.kind == "loose":
        # A number on its own: "tomorrow 7" is an hour (am or pm is asked unless a part of
        # the day says), but "friday 14" may be the 14th, so 12 and over need "at" or ":00".
        if pieces.hint is None and not 1 <= time.hour <= 11:
            raise InvalidInput(f"I'm not sure what {time.hour} means there. Please type the "
                               "time like 19:00 or 7pm.")
        time = _Time(time.hour, 0, "bare")
    if time is not None and time.kind == "dot" and not pieces.has_date:
        raise InvalidInput(_WHEN_DOTTED)
    clock = _clock(time, pieces.hint) if time is not None else None
    time_text = f" {clock:%H:%M}" if clock is not None else ("" if ctx.date_only else " 19:00")

    # Concrete dates: explicit ones and today/tomorrow/in 3 days. Several must agree.
    concrete: list[dt.date] = []
    recent_past = False
    for year, month, day_number in pieces.explicit:
        if year is None:
            day, recent_past = _resolve_yearless(month, day_number, ctx)
        else:
            day = _date_or_refuse(year, month, day_number)
        _check_year(day, ctx)
        concrete.append(day)
    for offset in pieces.day_offsets:
        if abs(offset) > 366 * 10:
            raise InvalidInput(_WHEN_UNREADABLE)
        concrete.append(ctx.today + dt.timedelta(days=offset))
    if pieces.week_offsets and (concrete or not pieces.weekdays):
        raise InvalidInput(_WHEN_WHICH_DAY)
    if len(set(concrete)) > 1 or (pieces.alternatives and len(concrete) + len(pieces.weekdays) > 1):
        raise InvalidInput(_WHEN_TWO)
    weekdays = set(pieces.weekdays)
    if concrete:
        day = concrete[0]
        for weekday, _modifier in weekdays:
            if weekday != day.weekday():
                raise InvalidInput(
                    f"{day.day} {_MONTH_NAME[day.month]} {day.year} is a "
                    f"{_DAY_NAME[day.weekday()]}, not a {_DAY_NAME[weekday]}. Please check "
                    "the date.")
    elif weekdays:
        if len({weekday for weekday, _ in weekdays}) > 1 or len(weekdays) > 1 or \
                len(pieces.week_offsets) > 1:
            raise InvalidInput(_WHEN_TWO)
        weekday, modifier = next(iter(weekdays))
        if pieces.week_offsets:
            if modifier is not None:
                raise InvalidInput(_WHEN_TWO)
            monday = ctx.today - dt.timedelta(days=ctx.today.weekday())
            day = monday + dt.timedelta(days=7 * pieces.week_offsets[0] + weekday)
        else:
            day = _resolve_weekday(weekday, modifier, ctx, time_text)
    elif clock is not None:
        day = ctx.today  # a time on its own means today (refused below if it has passed)
    else:
        raise InvalidInput(unreadable)

    if ctx.date_only or clock is None:
        return day, recent_past
    return dt.datetime.combine(day, clock), recent_past


def _context(now: dt.datetime, tz: str, allow_past: bool, date_only: bool,
             max_future_days: int) -> _Ctx:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if max_future_days < 0:
        raise ValueError("max_future_days must not be negative")
    zone = _zone(tz)
    now_utc = now.astimezone(_UTC)
    return _Ctx(now_utc, zone, now_utc.astimezone(zone).date(), allow_past, date_only,
                max_future_days)


def _too_far(shown: str, ctx: _Ctx) -> InvalidInput:
    days = ctx.max_future_days
    within = "the next year" if days in (365, 366) else f"the next {_plural(days, 'day', 'days')}"
    what = "a date" if ctx.date_only else "a time"
    return InvalidInput(f"That's too far ahead ({shown}). Please give {what} within {within}.")


def _parse_date(text: str, ctx: _Ctx) -> dt.date:
    found, recent_past = _parse_local(text, ctx)
    day = found.astimezone(ctx.zone).date() if isinstance(found, dt.datetime) and \
        found.tzinfo is not None else (found.date() if isinstance(found, dt.datetime) else found)
    if day < ctx.today and not ctx.allow_past:
        hint = (f" If you mean next year, add the year, e.g. "
                f"{day:%d/%m}/{day.year + 1}.") if recent_past else ""
        raise InvalidInput(f"That date has already passed (it was {_describe_day(day, ctx.today)})."
                           f" Please give a date from today onwards.{hint}")
    if (day - ctx.today).days > ctx.max_future_days:
        raise _too_far(format_date(day), ctx)
    return day


def too_early_sentence(moment: dt.datetime, earliest: dt.datetime,
                       tz: str = "Europe/London") -> str:
    """The refusal of a start before `earliest`, naming both in the scheme's time zone."""
    first = earliest.astimezone(_zone(tz))
    limit = format_date(first.date()) if first.time() == dt.time(0) else format_when(first, tz)
    return (f"That's too long ago to report ({format_when(moment, tz)}): the earliest start "
            f"I can take is {limit}. Please check the date.")


def parse_when(text: str, *, now: dt.datetime, tz: str = "Europe/London",
               allow_past: bool = False, max_future_days: int = 366,
               date_only: bool = False, not_before: dt.datetime | None = None) -> dt.datetime:
    """A date and time as people type it → aware UTC datetime.

    `14/03 19:00`, `14/03/2027 19:00`, `14/3 7pm`, `tomorrow 7pm`, `tomorrow at 19:30`,
    `next Tuesday 10am`, `tuesday 10am`, `today 18:00`, `14 March 7pm`, `in 2 hours`,
    `19:00` (today). British, day first, in the scheme's time zone `tz`. A date with no time is
    refused asking for one, unless `date_only`, which returns local midnight as UTC. See the
    module docstring for how ambiguous forms are read.

    Raises InvalidInput for anything unreadable, ambiguous, impossible, skipped by the clocks,
    already past (unless `allow_past`), before `not_before` (an aware moment: how far back a
    past time may go), or more than `max_future_days` ahead; ValueError when `now` or
    `not_before` is naive or `tz` unknown.
    """
    if not_before is not None and (not_before.tzinfo is None or not_before.utcoffset() is None):
        raise ValueError("not_before must be timezone-aware")
    ctx = _context(now, tz, allow_past, date_only, max_future_days)
    if date_only:
        day = _parse_date(text, ctx)
        # Midnight can itself be skipped in some zones; fold=0 then gives the first instant
        # of that local day, which is what "the start of the day" means.
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=ctx.zone).astimezone(_UTC)
        if not_before is not None and midnight < not_before:
            raise InvalidInput(too_early_sentence(midnight, not_before, tz))
        return midnight
    found, recent_past = _parse_local(text, ctx)
    if not isinstance(found, dt.datetime):
        raise InvalidInput(f"Please add a time, e.g. {found:%d/%m} 19:00.")
    moment = found if found.tzinfo is not None else _localise(found, ctx.zone)
    if moment < ctx.now and not allow_past:
        local = moment.astimezone(ctx.zone)
        day_text = _describe_day(local.date(), ctx.today)
        advice = "Please give a time in the future."
        if recent_past:
            advice += (f" If you mean next year, add the year, e.g. "
                       f"{local:%d/%m}/{local.year + 1} {local:%H:%M}.")
        elif day_text == "today":
            advice = f"Please give a time in the future, e.g. tomorrow {local:%H:%M}."
        raise InvalidInput(f"That time has already passed (it was {day_text} at "
                           f"{local:%H:%M}). {advice}")
    if not_before is not None and moment < not_before:
        raise InvalidInput(too_early_sentence(moment, not_before, tz))
    if moment - ctx.now > dt.timedelta(days=max_future_days):
        raise _too_far(format_when(moment, tz), ctx)
    return moment


def parse_date(text: str, *, now: dt.datetime, tz: str = "Europe/London",
               allow_past: bool = False, max_future_days: int = 366) -> dt.date:
    """A date as people type it (`14/03`, `tomorrow`, `next friday`) → local `date`.

    A time, if typed, is ignored. Today is never "in the past". Same rules as `parse_when`.
    """
    return _parse_date(text, _context(now, tz, allow_past, True, max_future_days))


def format_when(moment: dt.datetime, tz: str = "Europe/London") -> str:
    """`"Tue 14 Mar 2027, 19:00"` in the scheme's time zone, for summaries and messages.

    A naive datetime is taken to be UTC (that is how the database stores times, and SQLite
    hands them back without a zone). The output parses back with `parse_when`.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    local = moment.astimezone(_zone(tz))
    return f"{format_date(local.date())}, {local:%H:%M}"


def format_date(day: dt.date) -> str:
    """`"Tue 14 Mar 2027"`: the date part of `format_when`."""
    return f"{_DAY_ABBR[day.weekday()]} {day.day} {_MONTH_ABBR[day.month]} {day.year}"


def warm_up() -> None:
    """Load dateparser's English data now (about 0.1 s) rather than on someone's first message.

    Call once at start-up. Our own tokeniser handles the common forms without dateparser, so
    this only matters for the long tail of phrasings.
    """
    now = dt.datetime.now(_UTC)
    ctx = _context(now, "Europe/London", True, False, 366)
    try:
        _dateparser_fallback("14 march 2027 at 7pm", ctx, _WHEN_UNREADABLE)
    except InvalidInput:  # pragma: no cover - warming up must never stop start-up
        pass
