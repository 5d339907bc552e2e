"""Parsers shared by every transport (interim; see the full version)."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from storage.errors import InvalidInput

_MONEY = re.compile(r"^£?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$")


def format_money(pence: int) -> str:
    pounds, p = divmod(abs(pence), 100)
    sign = "-" if pence < 0 else ""
    return f"{sign}£{pounds:,}" + (f".{p:02d}" if p else "")


def over_cap_sentence(amount_pence: int, cap_pence: int, what: str = "a grant") -> str:
    return (f"{format_money(amount_pence)} is over the {format_money(cap_pence)} limit for "
            f"{what}. Please enter {format_money(cap_pence)} or less.")


def parse_money(text: str, *, cap_pence: int | None = None, allow_zero: bool = False) -> int:
    cleaned = (text or "").strip()
    if len(cleaned) > 40:
        raise InvalidInput("Please type an amount such as £250 or £1,000.")
    if cleaned.startswith("-"):
        raise InvalidInput("The amount can't be negative. Please type an amount such as £250.")
    match = _MONEY.match(cleaned)
    if not match:
        raise InvalidInput("Please type an amount in pounds, such as £250 or £1,000.50.")
    pounds = int(match.group(1).replace(",", ""))
    pence = int((match.group(2) or "0").ljust(2, "0"))
    amount = pounds * 100 + pence
    if amount == 0 and not allow_zero:
        raise InvalidInput("The amount must be more than £0.")
    if cap_pence is not None and amount > cap_pence:
        raise InvalidInput(over_cap_sentence(amount, cap_pence))
    return amount


def format_when(value: dt.datetime, tz: str = "Europe/London") -> str:
    return value.astimezone(ZoneInfo(tz)).strftime("%a %d %b %Y, %H:%M")
