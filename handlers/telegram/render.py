"""How a form's question, summary and refusals look on a phone: text plus inline buttons.

Text is sent without parse_mode, so whatever a member of the public said can never break
out into formatting.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.forms import engine
from handlers.forms.state import FormState
from handlers.forms.engine import Choice, Form
from storage.scheme import Scheme

TIMES = ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00", "17:00",
         "18:00", "19:00", "20:00"]


def data(state: FormState, op: str, arg: object = "") -> str:
    """Callback data; the sequence number makes a button from an earlier question harmless."""
    return f"f|{state.seq}|{op}|{arg}"[:64]


def parse_data(raw: str) -> tuple[int, str, str] | None:
    parts = (raw or "").split("|", 3)
    if len(parts) != 4 or parts[0] != "f" or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2], parts[3]


def _controls(form: Form, state: FormState) -> list[InlineKeyboardButton]:
    row = []
    if state.history or state.editing:
        row.append(InlineKeyboardButton("◀ Back", callback_data=data(state, "back")))
    current = form.field(state.step)
    if current.optional:
        row.append(InlineKeyboardButton("Skip ▶", callback_data=data(state, "skip")))
    row.append(InlineKeyboardButton("✖ Cancel", callback_data=data(state, "cancel")))
    return row


def _rows(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i:i + width] for i in range(0, len(buttons), width)]


def question(form: Form, state: FormState, options: list[Choice], scheme: Scheme,
             now: dt.datetime, refusal: str | None = None, *, checking: int = 0
             ) -> tuple[str, InlineKeyboardMarkup]:
    """The question with its buttons. `checking`: how many of the photos received are big
    ones still being fetched and checked (said in the count until they are taken or
    refused)."""
    current = form.field(state.step)
    lines = []
    if refusal:
        lines.append(f"⚠️ {refusal}")
    asked = current.question(scheme)
    understood = engine.read_back(state)
    if understood and not refusal:
        asked = f"{understood} — next: {asked}"
    lines.append(asked)
    if current.hint:
        lines.append(current.hint)
    buttons: list[list[InlineKeyboardButton]] = []
    if current.kind in ("choice", "multi") and not options:
        lines.append(f"({current.nothing_yet})" if current.nothing_yet else
                     "(There's nothing to pick from here yet"
                     + (" — tap Skip.)" if current.optional else
                        ". Tap Cancel, and try again once there is.)"))
    if current.kind in ("choice", "yesno"):
        width = 2 if all(len(o.label) <= 16 for o in options) else 1
        buttons += _rows([InlineKeyboardButton(o.label, callback_data=data(state, "pick", i))
                          for i, o in enumerate(options)], width)
    elif current.kind == "multi":
        ticked = state.ticked.get(current.name, [])
        buttons += _rows([InlineKeyboardButton(("✅ " if o.value in ticked else "▫️ ") + o.label,
                                               callback_data=data(state, "pick", i))
                          for i, o in enumerate(options)], 2)
        buttons.append([InlineKeyboardButton("Done ✔", callback_data=data(state, "done"))])
    elif current.kind == "when":
        picked = state.picked_day
        if picked:
            day = dt.date.fromisoformat(picked)
            lines.append(f"What time on {day:%a %d %b}? Tap one or type it, e.g. 19:30.")
            buttons += _rows([InlineKeyboardButton(t, callback_data=data(state, "time", t))
                              for t in TIMES], 4)
        else:
            local = now.astimezone(scheme.tz).date()
            back = -6 if current.allow_past else 0
            days = [local + dt.timedelta(days=n) for n in range(back, back + 7)]
            labels = {local: "Today", local + dt.timedelta(days=1): "Tomorrow",
                      local - dt.timedelta(days=1): "Yesterday"}
            buttons += _rows([InlineKeyboardButton(labels.get(d, f"{d:%a %d}"),
                                                   callback_data=data(state, "day",
                                                                      d.isoformat()))
                              for d in days], 4)
    elif current.kind == "date" and options:
        buttons += _rows([InlineKeyboardButton(o.label, callback_data=data(state, "pick", i))
                          for i, o in enumerate(options)], 2)
    elif current.kind == "photos":
        pending = len(state.pending_photos)
        if checking:
            lines.append(f"Received {pending - checking} — the big one is still being "
                         "checked…")
        elif pending:
            lines.append(f"Received {pending} so far. Send more, or tap Done.")
        buttons.append([InlineKeyboardButton("Done ✔", callback_data=data(state, "done"))])
    buttons.append(_controls(form, state))
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


def summary(form: Form, state: FormState, scheme: Scheme,
            refusal: str | None = None) -> tuple[str, InlineKeyboardMarkup]:
    lines = [f"⚠️ {refusal}", ""] if refusal else []
    lines.append(f"{form.title} — please check:")
    for label, value in engine.summary_lines(form, state, scheme):
        lines.append(f"• {label}: {value}")
    markup = InlineKeyboardMarkup([
        [InlineKeyboardButton("✅ Submit", callback_data=data(state, "submit"))],
        [InlineKeyboardButton("✏️ Edit", callback_data=data(state, "edit")),
         InlineKeyboardButton("◀ Back", callback_data=data(state, "back")),
         InlineKeyboardButton("✖ Cancel", callback_data=data(state, "cancel"))]])
    return "\n".join(lines)[:4000], markup


def edit_menu(form: Form, state: FormState) -> tuple[str, InlineKeyboardMarkup]:
    answers = state.answers
    fields = [f for f in form.fields if f.shown(answers) and f.name in answers]
    buttons = _rows([InlineKeyboardButton(f.label, callback_data=data(state, "field", f.name))
                     for f in fields], 2)
    buttons.append([InlineKeyboardButton("◀ Back to the summary",
                                         callback_data=data(state, "summary"))])
    return "Which answer would you like to change?", InlineKeyboardMarkup(buttons)
