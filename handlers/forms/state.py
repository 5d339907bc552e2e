"""Where a person is in a form: typed here, stored as plain JSON in a FormDraft.

The stored shape is the one drafts have always had (one JSON object, these names as its keys),
so a draft kept from before this class existed is taken as it is, and one saved now reads the
same to anything that looks at the stored JSON (retention, the sandbox's panel).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# A kept list of choices or labels: [[value, label], ...] (JSON has no tuples).
Pairs = list[list[Any]]


@dataclass
class FormState:
    form: str                                   # the form's name (engine.form_named)
    answers: dict[str, Any] = field(default_factory=dict)
    step: str | None = None                     # a field's name, engine.SUMMARY or EDIT_MENU
    history: list[str] = field(default_factory=list)   # the fields answered, for Back
    # Moves on with every change, and every button carries it: a tap on an older question's
    # button is recognised as stale.
    seq: int = 0
    # The choices shown for a field, kept so a tap after a restart means what it meant then.
    options: dict[str, Pairs] = field(default_factory=dict)
    editing: bool = False                       # an answer changed from the summary's Edit
    labels: dict[str, Pairs] = field(default_factory=dict)   # how a chosen value reads
    ticked: dict[str, list[Any]] = field(default_factory=dict)  # a multi-choice so far
    pending_photos: list[dict[str, Any]] = field(default_factory=list)  # until Done
    read_back: list[Any] | None = None          # [seq, how a typed value was understood]
    picked_day: str | None = None               # a day tapped, its time still to come
    submitted: dict[str, Any] | None = None     # {"at": ..., "notice": ...} once sent
    # Keys a draft holds that this version does not know: kept, and saved back as they were.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> FormState:
        """A draft's state as stored (any version: a key it lacks takes its default)."""
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in stored.items() if k in known and v is not None}
        values.setdefault("form", stored.get("form", ""))
        state = cls(**values)
        state.extra = {k: v for k, v in stored.items() if k not in known}
        return state

    def to_json(self) -> dict[str, Any]:
        """The stored shape: the keys of a fresh form always, the others once they are set."""
        stored: dict[str, Any] = dict(self.extra)
        stored.update(form=self.form, answers=self.answers, step=self.step,
                      history=self.history, seq=self.seq, options=self.options,
                      editing=self.editing)
        for name in ("labels", "ticked", "pending_photos", "read_back", "picked_day",
                     "submitted"):
            value = getattr(self, name)
            if value:
                stored[name] = value
        return stored
