"""The scheme file: areas, objectives, lists, channels, schedules, limits, time zone.

An office's whole shape is here (DESIGN §1): West Mercia's four areas or Essex's fourteen
districts are configuration, never code. A typo stops start-up with the file, the key, the
line and the reason, because a scheme that half-loads would mis-route people's reports.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from storage.parsers import parse_money
from storage.errors import InvalidInput
from storage.finance.settings import Finance
from storage.scheme_meetings import Meetings
from storage.models import Role
from storage.permissions import MATRIX, ROLE_NAMES, Action, who_may

SCHEMES_DIR = Path(__file__).resolve().parent.parent / "schemes"
DEFAULT_SCHEME_FILE = SCHEMES_DIR / "west-mercia.yaml"

CHANNEL_KEYS = ("engagements", "alerts", "media", "grants", "digest")


class SchemeError(Exception):
    """The scheme file cannot be used; the message names the file, key, line and reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _money(value: Any) -> int:
    """Money in the file is written as people write it ("£1,000"); stored as pence."""
    if isinstance(value, bool):
        raise ValueError("write an amount such as £1,000")
    if isinstance(value, int):
        return value * 100
    try:
        return parse_money(str(value))
    except InvalidInput as refusal:
        raise ValueError(refusal.sentence) from None


class Channels(_Strict):
    engagements: str
    alerts: str
    media: str
    grants: str
    digest: str


class Schedules(_Strict):
    weekly_digest: str = "0 8 * * mon"
    weekly_catch_up: str = "0 10 * * wed"
    monthly_hours_summary: str = "0 9 1 * *"
    feedback_nudges: str = "0 * * * *"
    overdue_follow_ups: str = "0 9 * * mon-fri"
    retention: str = "30 2 * * *"
    # Urgent items nobody has acknowledged in time go up the chain; each step once, so a
    # frequent look costs nothing but makes "within 4 office hours" mean within a minute.
    escalation: str = "* * * * *"

    @field_validator("*")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value)
        except ValueError as error:
            raise ValueError(f"not a valid cron schedule ({error})") from None
        return value


class Limits(_Strict):
    grant_cap_pence: int = Field(alias="grant_cap")
    fund_size_pence: int = Field(alias="fund_size")
    fund_period: str
    hours_per_month: int = Field(gt=0, le=744)
    annual_fee_pence: int = Field(alias="annual_fee")
    invite_valid_days: int = Field(14, gt=0, le=365)
    follow_up_due_days: int = Field(7, gt=0, le=365)
    feedback_due_hours: int = Field(24, gt=0, le=24 * 30)
    draft_expiry_days: int = Field(14, gt=0, le=365)
    max_text_chars: int = Field(2000, ge=100, le=3000)
    max_media_bytes: int = Field(20 * 1024 * 1024, gt=0, le=2_000_000_000)
    # How many days after an engagement it may still be reported (feedback for one that was
    # never pre-notified): memories and numbers older than that are not worth recording.
    report_within_days: int = Field(90, gt=0, le=3660)

    @field_validator("grant_cap_pence", "fund_size_pence", "annual_fee_pence", mode="before")
    @classmethod
    def _pence(cls, value: Any) -> int:
        return _money(value)

    @field_validator("fund_period")
    @classmethod
    def _period(cls, value: str) -> str:
        try:
            start, end = (dt.date.fromisoformat(part) for part in value.split("/"))
        except ValueError:
            raise ValueError("write the period as YYYY-MM-DD/YYYY-MM-DD") from None
        if end <= start:
            raise ValueError("the period must end after it starts")
        return value

    @model_validator(mode="after")
    def _cap_within_fund(self) -> Limits:
        if self.grant_cap_pence <= 0:
            raise ValueError("grant_cap must be more than £0")
        if self.grant_cap_pence > self.fund_size_pence:
            raise ValueError("grant_cap cannot be larger than fund_size")
        return self

    @property
    def fund_starts(self) -> dt.date:
        return dt.date.fromisoformat(self.fund_period.split("/")[0])

    @property
    def fund_ends(self) -> dt.date:
        return dt.date.fromisoformat(self.fund_period.split("/")[1])


class Retention(_Strict):
    """How long personal data is kept, in days; each entry of storage/personal_data.py names
    one of these (or a limit) and scheduler/retention.py enforces them every night."""
    feedback_free_text_days: int = Field(1095, gt=0)
    media_days: int = Field(730, gt=0)
    audit_detail_days: int = Field(2190, gt=0)
    # A settled message (delivered, or given up on) keeps the fact of its delivery and loses
    # its text and data: the record it told of is kept, with its own period, elsewhere.
    delivered_message_days: int = Field(30, gt=0)
    # Grants, the fund's ledger, hours and expense claims: six years, as for other financial
    # records of a public body.
    finance_days: int = Field(2190, gt=0)
    # An invite's name, counted from when it expires (used or not).
    invite_days: int = Field(90, gt=0)
    keep_media_originals: bool = False


EMAIL_ADDRESS = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")


class Email(_Strict):
    """Who gets the weekly digest and the reports by e-mail, for those who do not live in
    Slack (the SMTP server and its credentials are settings: SMTP_HOST and the rest)."""
    digest: list[str] = []
    reports: list[str] = []

    @field_validator("digest", "reports")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        cleaned = [v.strip() for v in values]
        for v in cleaned:
            if not EMAIL_ADDRESS.fullmatch(v):
                raise ValueError(f"{v!r} is not an e-mail address (e.g. pcc@example.gov.uk)")
        return cleaned


class Words(_Strict):
    """The examples a question gives, in the office's own places: an Essex ambassador asked
    for a title should not be shown a Shropshire parish. The defaults name no place at all,
    so a scheme file that leaves these out still reads right anywhere."""
    engagement_example: str = Field("Riverside parish council meeting", min_length=1)
    place_example: str = Field("Village Hall, High Street", min_length=1)
    journey_example: str = Field("bus to the parish council meeting", min_length=1)
    meeting_venue: str = Field("Town Hall", min_length=1)
    # What the office sees where erasure or redaction took text away ({date}: the day).
    erased_text: str = Field("Text erased on {date} at the person's request.", min_length=1)
    removed_mention: str = Field("[removed on {date} at the person's request]", min_length=1)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Which part of the UK's bank holidays the office keeps, as the holidays library names it.
BANK_HOLIDAY_REGIONS = {"england": "ENG", "wales": "WLS", "scotland": "SCT",
                        "northern-ireland": "NIR", "none": None}


def _weekdays(value: str) -> frozenset[int]:
    """"mon-fri" or "mon,wed,fri" (or a mix) as Python weekday numbers (Monday is 0)."""
    days: set[int] = set()
    for part in value.replace(" ", "").lower().split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"write the days as e.g. mon-fri or mon,wed,fri (not {value!r})")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if end < start:
            raise ValueError(f"{part!r} runs backwards; write e.g. mon-fri")
        days.update(range(start, end + 1))
    return frozenset(days)


class OfficeHours(_Strict):
    """When the office is working: the clock an "acknowledge within 4 hours" runs on."""
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    days: str = "mon-fri"
    opens: dt.time = Field(dt.time(9), alias="from")
    closes: dt.time = Field(dt.time(17), alias="to")
    bank_holidays: str = "england"

    @field_validator("days")
    @classmethod
    def _days(cls, value: str) -> str:
        _weekdays(value)
        return value

    @field_validator("bank_holidays")
    @classmethod
    def _region(cls, value: str) -> str:
        if value not in BANK_HOLIDAY_REGIONS:
            raise ValueError(f"{value!r} is not one of {', '.join(BANK_HOLIDAY_REGIONS)}")
        return value

    @model_validator(mode="after")
    def _opens_before_closing(self) -> OfficeHours:
        if self.closes <= self.opens:
            raise ValueError("the office must close after it opens (e.g. from 09:00 to 17:00)")
        return self

    @property
    def weekdays(self) -> frozenset[int]:
        return _weekdays(self.days)


# The roles that may acknowledge an urgent item: only they can stop its escalation.
ACKNOWLEDGERS = MATRIX[Action.HANDLE_FOLLOW_UP]


def _acknowledger(role: str, named: str) -> Role:
    try:
        found = Role(role)
    except ValueError:
        found = None
    if found not in ACKNOWLEDGERS:
        raise ValueError(f"{named} {role!r} cannot acknowledge an urgent item: only "
                         f"{who_may(Action.HANDLE_FOLLOW_UP)} can (write one of "
                         f"{', '.join(sorted(r.value for r in ACKNOWLEDGERS))})")
    return found


class ChainStep(_Strict):
    """One step of the escalation chain: everyone holding `role`, or the one person named
    (who must hold that role when the step is reached)."""
    role: Role
    person: str | None = None

    @property
    def label(self) -> str:
        return self.person or ROLE_NAMES[self.role]


class Escalation(_Strict):
    """Who hears of an urgent item nobody has acknowledged, and after how long."""
    acknowledge_within_office_hours: float = Field(4, gt=0, le=24 * 7)
    chain: list[ChainStep] = [ChainStep(role=Role.DEPUTY), ChainStep(role=Role.COMMISSIONER)]

    @field_validator("chain", mode="before")
    @classmethod
    def _steps(cls, values: Any) -> Any:
        if not isinstance(values, list) or not values:
            raise ValueError("list at least one role, e.g. [deputy, commissioner]")
        steps = []
        for value in values:
            if isinstance(value, str):
                steps.append({"role": _acknowledger(value.strip(), "the role")})
            elif isinstance(value, dict) and set(value) <= {"person", "role"}:
                name = str(value.get("person") or "").strip()
                if not name:
                    raise ValueError("a chain step written as a mapping names a person, e.g. "
                                     "{person: Dev Sharma, role: deputy}")
                if "role" not in value:
                    raise ValueError(f"the chain names {name} without a role; write "
                                     f"{{person: {name}, role: deputy}} with the role they hold")
                steps.append({"person": name,
                              "role": _acknowledger(str(value["role"]).strip(),
                                                    f"{name}'s role")})
            else:
                raise ValueError("each chain step is a role (deputy) or a person with their "
                                 "role ({person: Dev Sharma, role: deputy})")
        return steps


class Scheme(_Strict):
    name: str = Field(min_length=1)
    office: str = Field(min_length=1)
    commissioner_title: str = "Commissioner"
    timezone: str = "Europe/London"
    # The day the scheme began: nothing held before it can be reported. When the file does
    # not say, the start of the fund period.
    started: dt.date | None = None
    areas: list[str] = Field(min_length=1)
    plan_name: str = "Police and Crime Plan"
    plan_objectives: list[str] = Field(min_length=1)
    demographic_groups: list[str] = Field(min_length=1)
    topics: list[str] = Field(min_length=1)
    engagement_kinds: list[str] = Field(min_length=1)
    channels: Channels
    schedules: Schedules = Schedules()
    limits: Limits
    retention: Retention
    email: Email = Email()
    finance: Finance = Finance()
    words: Words = Words()
    meetings: Meetings = Meetings()
    office_hours: OfficeHours = OfficeHours()
    escalation: Escalation = Escalation()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone (e.g. Europe/London)") from None
        return value

    @field_validator("areas", "plan_objectives", "demographic_groups", "topics",
                     "engagement_kinds")
    @classmethod
    def _unique_names(cls, values: list[str]) -> list[str]:
        cleaned = [v.strip() for v in values]
        if any(not v for v in cleaned):
            raise ValueError("an entry is empty")
        seen: set[str] = set()
        for v in cleaned:
            if v.casefold() in seen:
                raise ValueError(f"{v!r} is listed twice")
            seen.add(v.casefold())
        return cleaned

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def began(self) -> dt.date:
        return self.started or self.limits.fund_starts

    def earliest_report(self, now: dt.datetime) -> dt.datetime:
        """The earliest start an engagement reported after the fact may have, as aware UTC:
        the first moment (in the scheme's zone) of the later of the day the scheme began and
        `report_within_days` days before today. A whole local day, so the sentence that
        refuses an earlier one can name that day and be exactly right."""
        today = now.astimezone(self.tz).date()
        day = max(self.began, today - dt.timedelta(days=self.limits.report_within_days))
        return dt.datetime.combine(day, dt.time(0), tzinfo=self.tz).astimezone(dt.UTC)


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map each key path in the YAML document to its 1-based line, for error messages."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            lines[child] = key_node.start_mark.line + 1
            lines.update({k: v for k, v in _line_index(value_node, child).items() if k != child})
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, index)))
    return lines


def _nearest_line(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def parse_scheme(text: str, source: str = "<scheme>") -> Scheme:
    """Validate scheme YAML; any problem becomes one SchemeError naming key, line and reason."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SchemeError(f"{source}{where}: not valid YAML ({getattr(error, 'problem', error)})") \
            from None
    if not isinstance(data, dict) or node is None:
        raise SchemeError(f"{source}: the scheme file must be a mapping of keys to values")
    try:
        return Scheme.model_validate(data)
    except ValidationError as error:
        lines = _line_index(node)
        problems = []
        for item in error.errors():
            loc = tuple(item["loc"])
            # Aliased money fields report the alias, which is what the file says anyway.
            key = ".".join(str(part) for part in loc) or "(top level)"
            line = _nearest_line(lines, loc)
            reason = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                reason = "unknown key (check the spelling)"
            elif item["type"] == "missing":
                reason = "this key is required"
            problems.append(f"{source}{f' line {line}' if line else ''}: {key}: {reason}")
        raise SchemeError("\n".join(problems)) from None


def load_scheme(path: str | Path | None = None) -> Scheme:
    """Read the scheme file (the West Mercia default when none is given)."""
    file = Path(path) if path else DEFAULT_SCHEME_FILE
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise SchemeError(f"{file}: cannot read the scheme file ({error.strerror})") from None
    return parse_scheme(text, str(file))
