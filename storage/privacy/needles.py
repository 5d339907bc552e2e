"""Recognising one person in text: a name however it is spaced or capitalised, an e-mail
address in any case, a phone number however it is written (the phonenumbers library, UK
numbers by default), a chat id as a whole token, or a passage they wrote quoted anywhere.

A `Scrubber` rewrites text and JSON: each occurrence of a needle becomes its replacement,
and a value quoting a passage in `whole` becomes the placeholder altogether (a message that
quotes someone's feedback is not left half-quoted)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import phonenumbers

REGION = "GB"
EMAIL_IN_TEXT = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_EMAIL = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")
# Below this a name would match inside other words and sentences too easily.
MIN_NAME_CHARS = 3


def phone_numbers_in(text: str) -> list[tuple[int, int, str]]:
    """(start, end, E.164) of every phone number written in the text."""
    found = []
    for m in phonenumbers.PhoneNumberMatcher(text, REGION,
                                             leniency=phonenumbers.Leniency.POSSIBLE):
        start = m.start
        # "(+44 7700 900123)": the matcher takes the opening bracket, not the closing one.
        if text[start] == "(" and m.raw_string.count("(") > m.raw_string.count(")"):
            start += 1
        found.append((start, m.end, phonenumbers.format_number(
            m.number, phonenumbers.PhoneNumberFormat.E164)))
    return found


def normalise_phone(text: str) -> str | None:
    """The E.164 form of a phone number written alone ("07700 900123" -> "+447700900123")."""
    try:
        number = phonenumbers.parse(text, REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(text: str) -> str | None:
    text = text.strip()
    return text.casefold() if _EMAIL.fullmatch(text) else None


@dataclass(frozen=True)
class Needle:
    """One way a person is written: kind is name, email, phone, id or passage."""
    kind: str
    value: str

    @classmethod
    def name(cls, text: str) -> Needle | None:
        words = text.split()
        if len("".join(words)) < MIN_NAME_CHARS:
            return None
        return cls("name", " ".join(words))

    @classmethod
    def from_query(cls, text: str) -> Needle | None:
        """What a DPO types: an e-mail address, a phone number, or a name."""
        email = normalise_email(text)
        if email:
            return cls("email", email)
        digits = sum(c.isdigit() for c in text)
        phone = normalise_phone(text) if digits >= 7 else None
        if phone:
            return cls("phone", phone)
        return cls.name(text)

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        if self.kind == "passage":
            return re.compile(re.escape(self.value))
        if self.kind == "id":
            return re.compile(rf"(?<![0-9A-Za-z]){re.escape(self.value)}(?![0-9A-Za-z])")
        words = r"\s+".join(re.escape(w) for w in self.value.split())
        return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)

    @cached_property
    def _tail(self) -> str:
        # However a number is written, its last six digits appear together: a cheap look
        # before the full reading, which is slow over years of messages.
        return self.value[-6:]

    def spans(self, text: str) -> list[tuple[int, int]]:
        if self.kind == "phone":
            if self._tail not in re.sub(r"\D", "", text):
                return []
            return [(s, e) for s, e, number in phone_numbers_in(text) if number == self.value]
        if self.kind == "email":
            if "@" not in text:
                return []
            return [m.span() for m in EMAIL_IN_TEXT.finditer(text)
                    if m.group().casefold() == self.value]
        return [m.span() for m in self._pattern.finditer(text)]

    def found_in(self, text: str) -> bool:
        return bool(self.spans(text))


@dataclass
class Scrubber:
    """Rewrites text and JSON values; `changed` counts the values it altered."""
    needles: list[tuple[Needle, str]]
    placeholder: str
    whole: list[str] = field(default_factory=list)

    def matches(self, text: str) -> bool:
        return any(w in text for w in self.whole) or any(n.found_in(text)
                                                         for n, _ in self.needles)

    def text(self, value: str) -> str:
        if any(w in value for w in self.whole):
            return self.placeholder
        spans: list[tuple[int, int, str]] = []
        for needle, replacement in self.needles:
            spans += [(s, e, replacement) for s, e in needle.spans(value)]
        if not spans:
            return value
        out, at = [], 0
        for start, end, replacement in sorted(spans):
            if start < at:  # overlaps one already replaced
                continue
            out += [value[at:start], replacement]
            at = end
        return "".join(out) + value[at:]

    def json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value

    def value(self, value: Any) -> Any:
        return self.text(value) if isinstance(value, str) else self.json(value)


def strings_in(value: Any) -> Iterable[tuple[str, str]]:
    """(path, text) of every string in a JSON value: "answers.summary", "text"."""
    if isinstance(value, str):
        yield "", value
    elif isinstance(value, dict):
        for key, item in value.items():
            for path, text in strings_in(item):
                yield (f"{key}.{path}" if path else str(key)), text
    elif isinstance(value, list):
        for i, item in enumerate(value):
            for path, text in strings_in(item):
                yield (f"{i}.{path}" if path else str(i)), text
