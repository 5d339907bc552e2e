"""The form engine's transport-free core: fields, answers, Back/Skip/Edit, the summary.

A form is declared once (handlers/forms/flows.py); Telegram runs it as a conversation and
Slack as a modal. Where a person is in a form is a FormState (handlers/forms/state.py), stored
as JSON in a FormDraft after every answer and resumed after a restart exactly where it
stopped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from storage import parsers
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.operations.people import get_person
from storage.operations.updates import Once
from storage.errors import InvalidInput
from storage.models import Person
from storage.scheme import Scheme
from handlers.forms.state import FormState

Kind = Literal["text", "choice", "multi", "count", "money", "when", "date", "hours", "yesno",
               "photos", "location", "miles"]


@dataclass(frozen=True)
class Choice:
    value: Any
    label: str


@dataclass
class FormContext:
    """What a form needs to ask its questions and submit: the scheme, the person, the clock.

    `once` is the incoming update (Telegram update, Slack submission): the first transaction
    that changes records also records it as processed, so it is handled once, ever.
    """

    db: Database
    scheme: Scheme
    person: Person
    now: dt.datetime
    once: Once | None = None
    services: dict[str, Any] = field(default_factory=dict)
    # Run at the end of the next transaction, when its body succeeded: a Submit uses it to
    # mark the draft as sent in the very transaction that writes the record.
    finishing: Callable[[AsyncSession], Awaitable[None]] | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        opened = self.once.transaction() if self.once is not None else self.db.transaction()
        async with opened as session:
            yield session
            if self.finishing is not None:
                finishing, self.finishing = self.finishing, None
                await finishing(session)

    async def actor(self, session: AsyncSession) -> Person:
        """The person as the database has them now (not the copy loaded when the update
        arrived: merging that back would undo, say, a deactivation made meanwhile)."""
        return await get_person(session, self.person.id)


ChoiceSource = Callable[[FormContext, dict[str, Any]], Awaitable[Sequence[Choice]]]


@dataclass(frozen=True)
class Field:
    name: str
    label: str                         # shown in the summary
    prompt: str                        # the question, one at a time
    kind: Kind
    optional: bool = False
    max_chars: int = 200
    choices: ChoiceSource | None = None
    allow_past: bool = False           # for "when": reporting something already held
    not_before: Callable[[Scheme, dt.datetime], dt.datetime] | None = None  # and how far back
    cap_pence: Callable[[Scheme], int] | None = None
    show_if: Callable[[dict[str, Any]], bool] | None = None
    hint: str = ""                     # e.g. "e.g. 14/03 19:00 or tomorrow 7pm"
    contact: bool = False              # text that must hold a phone number or e-mail address
    nothing_yet: str = ""              # a choice with nothing to offer says why, in these words

    def shown(self, answers: dict[str, Any]) -> bool:
        return self.show_if is None or self.show_if(answers)

    def question(self, scheme: Scheme) -> str:
        """The prompt as this office asks it: its examples name the office's own places
        (`{place_example}` and the rest of the scheme's words), never another office's."""
        words = scheme.words.model_dump()
        if self.cap_pence is not None:
            words["cap"] = parsers.format_money(self.cap_pence(scheme))
        asked = self.prompt.format_map(words)
        if self.kind == "text":
            # Said before they type, so a long answer is not written only to be refused.
            asked += f" Up to {self.max_chars:,} characters."
        return asked


Submit = Callable[[FormContext, dict[str, Any]], Awaitable[str]]


@dataclass(frozen=True)
class Form:
    name: str
    title: str
    command: str
    fields: tuple[Field, ...]
    submit: Submit
    intro: str = ""

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


@dataclass
class Answer:
    """What a person gave, whatever the app: typed text, a tapped choice, photos, a place."""

    text: str | None = None
    choice: int | None = None
    photos: list[dict[str, Any]] | None = None
    location: tuple[float, float] | None = None
    other: str | None = None           # a sticker, voice note... named, to say why it is refused


SUMMARY = "@summary"  # not a field name: a form may have a field called "summary"
EDIT_MENU = "@edit"
WRONG_KIND = {
    "text": "Please type your answer as a message.",
    "count": "Please type a number, e.g. 25.",
    "money": "Please type an amount, e.g. £250.",
    "when": "Please type a date and time, e.g. 14/03 19:00 or tomorrow 7pm, or tap a day.",
    "date": "Please type a date, e.g. 14/03, or tap a day.",
    "hours": "Please type the time, e.g. 2, 1.5 or 1h30.",
    "miles": "Please type the miles, e.g. 12.5.",
}


def answered(state: FormState) -> int:
    """How many questions of a draft have an answer (a skipped one counts: it was answered)."""
    return len(state.answers)


def submitted(state: FormState | None) -> bool:
    """Whether the draft's form was sent to the office (the draft outlives the record only
    until the person has been told, see handlers/telegram/conversation.py)."""
    return bool(state and state.submitted)


def new_state(form: Form) -> FormState:
    return FormState(form=form.name)


def next_field(form: Form, state: FormState, after: str | None) -> str:
    """The next field to ask after `after` (None: the first) that is shown and unanswered;
    when editing, straight back to the summary."""
    answers = state.answers
    if state.editing and after is not None:
        state.editing = False
        # A changed answer may reveal a follow-on question (e.g. follow-up detail).
        for f in form.fields:
            if f.shown(answers) and f.name not in answers and not f.optional:
                return f.name
        return SUMMARY
    names = [f.name for f in form.fields]
    start = 0 if after is None else names.index(after) + 1
    for f in form.fields[start:]:
        if f.shown(answers):
            return f.name
    return SUMMARY


def advance(form: Form, state: FormState) -> None:
    step = state.step
    if step not in (None, SUMMARY):
        state.history.append(step)
    state.step = next_field(form, state, step)
    state.seq += 1
    # Drop answers to questions that are no longer asked (e.g. the detail of a follow-up
    # that is now "none"), so the summary and the record never disagree.
    for f in form.fields:
        if not f.shown(state.answers):
            state.answers.pop(f.name, None)


def go_back(form: Form, state: FormState) -> None:
    if state.step == SUMMARY and state.history:
        state.step = state.history.pop()
    elif state.history:
        state.step = state.history.pop()
    state.seq += 1


def skip(form: Form, state: FormState) -> str | None:
    current = form.field(state.step)
    if not current.optional:
        return "This one is needed, so it can't be skipped."
    state.answers[current.name] = None
    advance(form, state)
    return None


def edit(form: Form, state: FormState, name: str) -> None:
    state.editing = True
    state.step = name
    state.seq += 1


async def options_for(form: Form, state: FormState, ctx: FormContext) -> list[Choice]:
    """The choices of the current field, computed once and kept in the draft so a tap on a
    button after a restart still means what it meant when the button was shown."""
    current = form.field(state.step)
    if current.kind == "yesno":
        return [Choice(True, "Yes"), Choice(False, "No")]
    if current.choices is None:
        return []
    kept = state.options.get(current.name)
    if kept is None:
        found = await current.choices(ctx, state.answers)
        kept = [[c.value, c.label] for c in found]
        state.options[current.name] = kept
    return [Choice(v, label) for v, label in kept]


def answer_needs_lookup(state: FormState) -> bool:
    """Whether taking an answer to the current question may read the database: only a
    choice whose options are not yet kept in the draft (see `options_for`). Otherwise
    `take_answer` is pure, so it can run inside a transaction the caller has open."""
    step = state.step
    if step in (None, SUMMARY, EDIT_MENU):
        return False
    current = _form_of(state).field(step)
    return current.choices is not None and current.name not in state.options


async def take_answer(form: Form, state: FormState, answer: Answer,
                      ctx: FormContext) -> str | None:
    """Validate and store an answer to the current field. Returns a refusal sentence (the
    question is then asked again) or None when the form moved on."""
    current = form.field(state.step)
    if current.optional and answer.text is not None and \
            answer.text.strip().strip(".!").casefold() in SKIP_WORDS:
        return skip(form, state)   # typing "skip" works wherever the Skip button would
    try:
        value = await _parse(current, state, answer, ctx)
    except InvalidInput as refusal:
        return refusal.sentence
    if value is _PENDING:
        return None
    state.answers[current.name] = value
    if current.kind == "choice":
        # Keep the label shown for the value (an engagement id reads as its title).
        options = state.options.get(current.name) or []
        label = next((lbl for v, lbl in options if v == value), str(value))
        state.labels[current.name] = [[value, label]]
    state.options.pop(current.name, None)
    advance(form, state)
    if answer.text is not None and current.kind in READ_BACK and state.step != SUMMARY:
        # What was understood from typed words, said before the next question: a slip
        # ("tomorrow" meant Monday) is seen now, not only in the summary at the end.
        state.read_back = [state.seq, display(current, value, ctx.scheme)]
    return None


READ_BACK = frozenset({"when", "date", "money"})


def read_back(state: FormState) -> str | None:
    """The value just typed, as understood, while the question after it is being asked (any
    later step — Back, Skip, another answer — moves `seq` on and drops it)."""
    kept = state.read_back
    return kept[1] if kept and kept[0] == state.seq else None


_PENDING = object()
SKIP_WORDS = frozenset({"skip", "skip it", "skip ▶"})


async def _parse(current: Field, state: FormState, answer: Answer,
                 ctx: FormContext) -> Any:
    kind = current.kind
    scheme = ctx.scheme
    if kind in ("choice", "yesno", "multi"):
        options = await options_for(_form_of(state), state, ctx)
        if not options:
            raise InvalidInput(current.nothing_yet or (
                "There's nothing to pick from here yet"
                + (" — please tap Skip." if current.optional else
                   ". Please tap Cancel and try again once there is.")))
        if answer.choice is not None:
            if not 0 <= answer.choice < len(options):
                raise InvalidInput("That button is no longer valid; please tap one below.")
            picked = options[answer.choice].value
            if kind == "multi":
                return _toggle(state, current, picked)
            return picked
        if answer.text is not None:
            if kind == "yesno":
                return parsers.parse_yes_no(answer.text)
            labels = [o.label for o in options]
            label = parsers.parse_choice(answer.text, labels)
            picked = options[labels.index(label)].value
            return _toggle(state, current, picked) if kind == "multi" else picked
        raise InvalidInput("Please tap one of the buttons.")
    if kind == "photos":
        if answer.photos:
            pending = state.pending_photos
            pending.extend(answer.photos)
            return _PENDING
        what = f"I can't use a {answer.other} here. " if answer.other else ""
        raise InvalidInput(what + "Please send a photo (or several), or a video.")
    if kind == "location":
        if answer.location is not None:
            return {"latitude": answer.location[0], "longitude": answer.location[1]}
        raise InvalidInput("Please share a location with the paperclip button, or tap Skip.")
    if answer.text is None:
        what = f"a {answer.other}" if answer.other else "that"
        raise InvalidInput(f"I can't use {what} here. " + WRONG_KIND.get(
            kind, "Please type your answer."))
    text = answer.text
    if kind == "text" and current.contact:
        return parsers.parse_contact(text, max_chars=current.max_chars)
    if kind == "text":
        return parsers.parse_text(text, max_chars=current.max_chars, what=current.label.lower())
    if kind == "count":
        return parsers.parse_count(text, what=current.label.lower())
    if kind == "money":
        cap = current.cap_pence(scheme) if current.cap_pence else None
        return parsers.parse_money(text, cap_pence=cap)
    if kind == "hours":
        return parsers.parse_hours(text)
    if kind == "miles":
        return parsers.parse_miles(text)
    if kind == "date":
        return parsers.parse_date(text, now=ctx.now, tz=scheme.timezone,
                                  allow_past=True).isoformat()
    if kind == "when":
        value = parsers.parse_when(text, now=ctx.now, tz=scheme.timezone,
                                   allow_past=current.allow_past, not_before=(
                                       current.not_before(scheme, ctx.now)
                                       if current.not_before else None))
        return value.isoformat()
    raise InvalidInput("Please type your answer.")


def _toggle(state: FormState, current: Field, picked: Any) -> Any:
    chosen = state.ticked.setdefault(current.name, [])
    if picked in chosen:
        chosen.remove(picked)
    else:
        chosen.append(picked)
    state.seq += 1
    return _PENDING


def finish_multi(form: Form, state: FormState) -> str | None:
    """The Done button of a multi-choice question."""
    current = form.field(state.step)
    chosen = state.ticked.pop(current.name, [])
    if not chosen and not current.optional:
        state.ticked[current.name] = chosen
        return "Please tick at least one, then tap Done."
    state.answers[current.name] = chosen
    state.options.pop(current.name, None)
    advance(form, state)
    return None


def finish_photos(form: Form, state: FormState) -> str | None:
    current = form.field(state.step)
    photos, state.pending_photos = state.pending_photos, []
    if not photos:
        return "Please send at least one photo or video first."
    state.answers[current.name] = photos
    advance(form, state)
    return None


def summary_lines(form: Form, state: FormState, scheme: Scheme) -> list[tuple[str, str]]:
    answers = state.answers
    lines = []
    for f in form.fields:
        if not f.shown(answers) or f.name not in answers:
            continue
        lines.append((f.label, display(f, answers[f.name], scheme, state)))
    return lines


def display(f: Field, value: Any, scheme: Scheme, state: FormState | None = None) -> str:
    if value is None:
        return "—"
    if f.kind == "money":
        return parsers.format_money(value)
    if f.kind == "when":
        return parsers.format_when(dt.datetime.fromisoformat(value), scheme.timezone)
    if f.kind == "date":
        return dt.date.fromisoformat(value).strftime("%a %d %b %Y")
    if f.kind == "hours":
        return f"{value // 60}h{value % 60:02d}" if value % 60 else f"{value // 60}h"
    if f.kind == "miles":
        return f"{value / 10:g} miles"
    if f.kind == "yesno":
        return "Yes" if value else "No"
    if f.kind == "multi":
        return ", ".join(map(str, value)) or "—"
    if f.kind == "photos":
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    if f.kind == "location":
        return "shared"
    if f.kind == "choice" and state is not None:
        for v, label in state.labels.get(f.name, []):
            if v == value:
                return label
    return str(value)


_FORMS: dict[str, Form] = {}


def register(form: Form) -> Form:
    _FORMS[form.name] = form
    return form


def form_named(name: str) -> Form:
    return _FORMS[name]


def all_forms() -> list[Form]:
    return list(_FORMS.values())


def _form_of(state: FormState) -> Form:
    return _FORMS[state.form]
