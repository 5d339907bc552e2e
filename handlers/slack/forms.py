"""The ambassador's forms (handlers/forms/flows.py) run as Slack modals.

One modal per form, built from the same declaration as the Telegram conversation: a field is
an input block whose block_id is the field's name. Typed answers are read with the engine's
`take_answer`, so they are parsed by the same parsers and refused with the same sentences
(a grant over the cap reads exactly as on Telegram); a refusal is shown on its field
(`response_action: errors`). Fields that appear only for some answers (the details of an
engagement that wasn't pre-notified, a follow-up's detail, mileage or an amount) are handled
by `dispatch_action` on the choices: picking one rebuilds the modal with views.update, keeping
what was already typed.

Photos and video come through a file input and go through the same safe-media pipeline as
Telegram's (handlers/slack/media.py), after the modal has been answered (the pipeline may take
longer than Slack's 3 seconds). Left out on Slack: sharing a location (optional everywhere).
An expense receipt is a file input too; its file id is recorded as `slack:<id>`. Modals keep
their state in Slack, so no draft is saved for them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from handlers.forms import engine, flows  # noqa: F401  (flows registers the forms)
from handlers.forms.engine import Answer, Choice, Field, Form, FormContext
from storage.scheme import Scheme
from handlers.slack.blocks import (PHOTOS_NOTE, PHOTOS_UNAVAILABLE, context, esc, option,
                                   plain, sections)

CALLBACK = "ambassador_form"
FIELD_ACTION_PREFIX = "field_"
SLACK_FORMS = ("prenotify", "feedback", "photos", "grant", "hours", "expenses", "away")
NEEDED = "This one is needed."
NOTHING_TO_PICK = ("*{label}*: there's nothing to pick from here yet, so this form can't be "
                   "sent. Please close it and try again once there is.")
PHOTO_TYPES = ["jpg", "jpeg", "png", "heic", "heif", "webp", "gif", "tiff", "mp4", "mov",
               "m4v", "3gp"]
MAX_PHOTOS = 10
GONE = "That choice is no longer available; please choose again."
CHECKBOX_LIMIT = 10


def supported(f: Field) -> bool:
    return f.kind != "location"


def _encode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _decode(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _has_conditions(form: Form) -> bool:
    return any(f.show_if is not None for f in form.fields)


async def _choices(f: Field, ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    if f.kind == "yesno":
        return [Choice(True, "Yes"), Choice(False, "No")]
    return list(await f.choices(ctx, answers)) if f.choices else []


def _initial_option(options: list[dict[str, Any]], raw: Any) -> dict[str, Any] | None:
    return next((o for o in options if o["value"] == raw), None)


async def _element(f: Field, ctx: FormContext, answers: dict[str, Any],
                   raw: Any) -> dict[str, Any] | None:
    """The input element for one field, showing `raw` (what the modal holds now) if any;
    None when a choice has nothing to offer (e.g. no recent engagements to pick from)."""
    action_id = FIELD_ACTION_PREFIX + f.name
    if f.kind in ("choice", "yesno", "multi"):
        choices = await _choices(f, ctx, answers)
        options = [option(c.label, _encode(c.value)) for c in choices
                   if len(_encode(c.value)) <= 150]
        if not options:
            return None
        if f.kind == "multi":
            kind = "checkboxes" if len(options) <= CHECKBOX_LIMIT else "multi_static_select"
            element: dict[str, Any] = {"type": kind, "action_id": action_id,
                                       "options": options}
            wanted = {_encode(v) for v in raw or []}
            chosen = [o for o in options if o["value"] in wanted]
            if chosen:
                element["initial_options"] = chosen
        else:
            kind = "radio_buttons" if f.kind == "yesno" else "static_select"
            element = {"type": kind, "action_id": action_id, "options": options}
            initial = _initial_option(options, _encode(raw)) if raw is not None else None
            if initial:
                element["initial_option"] = initial
        if kind.endswith("select"):
            element["placeholder"] = plain("Choose…", 150)
        return element
    if f.kind == "date":
        today = ctx.now.astimezone(ctx.scheme.tz).date().isoformat()
        return {"type": "datepicker", "action_id": action_id, "initial_date": raw or today}
    if f.kind == "photos" and f.name == "receipt":
        return {"type": "file_input", "action_id": action_id, "max_files": 1,
                "filetypes": ["jpg", "jpeg", "png", "heic"]}
    if f.kind == "photos":
        return {"type": "file_input", "action_id": action_id, "max_files": MAX_PHOTOS,
                "filetypes": PHOTO_TYPES}
    element = {"type": "plain_text_input", "action_id": action_id,
               "multiline": f.kind == "text" and f.max_chars > 200}
    if f.kind == "text":
        # One more than the limit: Slack's client would otherwise cut a paste silently at the
        # limit; this way a text too long reaches the form, which says so in its own words.
        element["max_length"] = min(f.max_chars + 1, 3000)
    placeholder = f.hint or engine.WRONG_KIND.get(f.kind, "").removeprefix("Please type ")
    if placeholder and f.kind != "text":
        element["placeholder"] = plain(placeholder, 150)
    if raw:
        element["initial_value"] = str(raw)
    return element


def _prompt(f: Field, scheme: Scheme) -> str:
    return f.question(scheme) + (f" ({f.hint})" if f.hint and f.kind != "when" else "")


async def build_view(form: Form, ctx: FormContext,
                     raw: dict[str, Any] | None = None) -> dict[str, Any]:
    """The modal for `form`, showing the fields the current answers call for; `raw` is what
    the modal holds now ({field name: value as Slack gave it}), kept when it is rebuilt."""
    raw = raw or {}
    visible = _answers_for_visibility(form, raw)
    dispatch = _has_conditions(form)
    blocks: list[dict[str, Any]] = []
    if form.intro:
        blocks.append(context(esc(form.intro)))
    blocked = False
    for f in form.fields:
        if not supported(f) or not f.shown(visible):
            continue
        element = await _element(f, ctx, visible, raw.get(f.name))
        if element is None:
            if not f.optional:
                blocked = True
                blocks += sections(NOTHING_TO_PICK.format(label=esc(f.label)))
            continue
        block: dict[str, Any] = {"type": "input", "block_id": f.name, "optional": f.optional,
                                 "label": plain(f.label, 2000), "element": element,
                                 "hint": plain(_prompt(f, ctx.scheme), 2000)}
        if element["type"] in ("static_select", "radio_buttons") and dispatch:
            block["dispatch_action"] = True
        blocks.append(block)
    if form.name == "feedback":
        blocks.append(context(PHOTOS_NOTE))
    view = {"type": "modal", "callback_id": CALLBACK, "title": plain(form.title, 24),
            "close": plain("Cancel", 24),
            "private_metadata": json.dumps({"form": form.name}), "blocks": blocks}
    if blocked:
        # Slack wants a submit button wherever there are inputs: show only why it can't be sent.
        view["blocks"] = [b for b in blocks if b.get("type") != "input"]
    else:
        view["submit"] = plain("Submit", 24)
    return view


def _answers_for_visibility(form: Form, raw: dict[str, Any]) -> dict[str, Any]:
    """Answers good enough to decide which fields are shown: the chosen values."""
    return {name: value for name, value in raw.items() if value not in (None, "", [])}


def raw_values(form: Form, state_values: dict[str, Any]) -> dict[str, Any]:
    """What the modal holds now, by field name, in the shape `build_view` takes back."""
    raw: dict[str, Any] = {}
    for f in form.fields:
        entry = (state_values.get(f.name) or {}).get(FIELD_ACTION_PREFIX + f.name)
        if not entry:
            continue
        kind = entry.get("type")
        if kind in ("static_select", "radio_buttons"):
            selected = entry.get("selected_option")
            raw[f.name] = selected["value"] if selected else None
            if selected and f.kind in ("choice", "yesno"):
                raw[f.name] = _decode(selected["value"])
        elif kind in ("checkboxes", "multi_static_select"):
            raw[f.name] = [_decode(o["value"]) for o in entry.get("selected_options") or []]
        elif kind == "datepicker":
            raw[f.name] = entry.get("selected_date")
        elif kind == "file_input":
            raw[f.name] = entry.get("files") or []
        else:
            raw[f.name] = entry.get("value")
    return raw


async def read_answers(form: Form, ctx: FormContext, state_values: dict[str, Any],
                       view_blocks: list[dict[str, Any]]) -> tuple[dict[str, Any],
                                                                   dict[str, str]]:
    """The answers of a submitted modal, checked field by field with the engine's parsers;
    returns (answers, errors by block id)."""
    raw = raw_values(form, state_values)
    in_view = {b.get("block_id") for b in view_blocks if b.get("type") == "input"}
    first_input = next((b.get("block_id") for b in view_blocks if b.get("type") == "input"),
                       None)
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in form.fields:
        if not supported(f) or not f.shown(answers):
            continue
        value = raw.get(f.name)
        empty = value in (None, "", [])
        if f.name not in in_view:
            if f.optional:
                answers[f.name] = None
                continue
            # The modal was not rebuilt for this answer yet: ask for the missing field there.
            errors[first_input or f.name] = f"Please also answer: {f.label}."
            continue
        if empty:
            if f.optional:
                answers[f.name] = None
            else:
                errors[f.name] = NEEDED
            continue
        if f.kind in ("choice", "yesno", "multi"):
            values = {_encode(c.value) for c in await _choices(f, ctx, answers)}
            picked = value if f.kind == "multi" else [value]
            if any(_encode(v) not in values for v in picked):
                errors[f.name] = GONE
                continue
            answers[f.name] = value
            continue
        if f.kind == "photos":
            answers[f.name] = [{"file_id": f"slack:{item.get('id')}",
                                "slack_file_id": item.get("id"), "file_name": item.get("name"),
                                "file_size": item.get("size")} for item in value]
            continue
        text = value
        if f.kind == "date":
            text = dt.date.fromisoformat(value).strftime("%d/%m/%Y")
        refusal, parsed = await _parse(form, f, ctx, answers, str(text))
        if refusal:
            errors[f.name] = refusal
        else:
            answers[f.name] = parsed
    return answers, errors


async def _parse(form: Form, f: Field, ctx: FormContext, answers: dict[str, Any],
                 text: str) -> tuple[str | None, Any]:
    """One typed answer through the engine, exactly as Telegram takes it."""
    state = engine.new_state(form)
    state.answers = dict(answers)
    state.step = f.name
    refusal = await engine.take_answer(form, state, Answer(text=text), ctx)
    return refusal, state.answers.get(f.name)


# An operation names the field it refuses in words; the modal's block ids are field names.
FIELD_ALIASES = {"project_description": "project", "ends_at": "duration",
                 "question_for_the_ambassador": "project"}


def error_block(form: Form, field_name: str | None, view_blocks: list[dict[str, Any]]) -> str:
    """The input block to show an operation's refusal on: its field if named and shown,
    else the first input of the modal."""
    inputs = [b.get("block_id") for b in view_blocks if b.get("type") == "input"]
    if field_name:
        wanted = field_name.replace(" ", "_").replace("-", "_")
        if wanted == "date":
            wanted = next((f.name for f in form.fields if f.kind == "date"), wanted)
        for candidate in (wanted, FIELD_ALIASES.get(wanted)):
            if candidate in inputs:
                return candidate
    return inputs[0] if inputs else "none"


def done_view(form: Form, sentence: str) -> dict[str, Any]:
    return {"type": "modal", "callback_id": "form_done", "title": plain(form.title, 24),
            "close": plain("Done", 24), "blocks": sections(f"✅ {esc(sentence)}")}


def working_view(form: Form) -> dict[str, Any]:
    """Shown while photos go through the safe-media pipeline (longer than Slack's 3 s)."""
    return {"type": "modal", "callback_id": "form_working", "title": plain(form.title, 24),
            "close": plain("Close", 24),
            "blocks": sections("Making your photos safe to publish… I'll send you a message "
                               "here in Slack as soon as they're with the office (or if one "
                               "can't be used). You can close this.")}


def unsupported_sentence(name: str) -> str:
    if name == "photos":
        return PHOTOS_UNAVAILABLE
    return "That form isn't available here."


def form_for(name: str) -> Form | None:
    return engine.form_named(name) if name in SLACK_FORMS else None
