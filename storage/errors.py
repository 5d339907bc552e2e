"""Typed refusals. Every one carries a sentence a non-technical person understands.

Handlers catch `Refused` and show `.sentence`; nothing else about the failure reaches a user.
"""

from __future__ import annotations

import datetime as dt


class Refused(Exception):
    """An operation or parser said no. `sentence` is shown to the person as it is."""

    def __init__(self, sentence: str, *, field: str | None = None) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.field = field


class InvalidInput(Refused):
    """What was typed or chosen cannot be used; the sentence says what to give instead."""


class NotAllowed(Refused):
    """The acting person's role does not permit this action (DESIGN §8). Audited."""

    def __init__(self, sentence: str, *, action: str, actor_id: int | None,
                 actor_label: str = "", target_type: str | None = None,
                 target_id: int | None = None) -> None:
        super().__init__(sentence)
        self.action = action
        self.actor_id = actor_id
        self.actor_label = actor_label
        self.target_type = target_type
        self.target_id = target_id


class NotFound(Refused):
    """The record asked for does not exist (or is not visible to this person)."""


class Conflict(Refused):
    """The record has moved on: already decided, already used, already filed."""


ALREADY_RECORDED = "That was recorded already — nothing was changed."


def is_unique_violation(error: BaseException) -> bool:
    """Whether a database's IntegrityError is a unique key met twice (a duplicate, a race
    lost), as opposed to a broken rule such as a missing value, which is a bug."""
    orig = getattr(error, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is not None:
        return str(code) == "23505"   # PostgreSQL's unique_violation
    name = getattr(orig, "sqlite_errorname", "")
    return name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")


class FundExhausted(Refused):
    """Approving this grant would take the fund below zero."""


class MediaRefused(InvalidInput):
    """A photo or video that cannot be used, with the reason in plain words."""


class AlreadyDecided(Conflict):
    """The record moved on after the button was shown: `by` did `decision` at `at` (UTC).
    Handlers word it in the scheme's time zone ("Already decided by …")."""

    def __init__(self, *, by: str, decision: str, at: dt.datetime | None) -> None:
        when = f", {at:%d %b %H:%M} UTC" if at is not None else ""
        super().__init__(f"Already decided by {by} ({decision}{when}).")
        self.by = by
        self.decision = decision
        self.at = at
