"""Runs the declared forms as Telegram conversations (DESIGN §4): one question at a time,
buttons for choices, Back, Skip, /cancel, a summary with Edit before Submit, and the draft
saved after every answer so a restart resumes where the ambassador stopped."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from handlers.forms import engine
from handlers.forms.engine import EDIT_MENU, SUMMARY, Answer, Form, FormContext
from handlers.telegram import raw, render
from handlers.telegram.context import Ctx
from storage.errors import Conflict, Refused
from storage.models import Person
from storage.operations import drafts
from storage.parsers import format_when

log = logging.getLogger(__name__)
TRANSPORT = "telegram"
STALE_BUTTON = "That button belongs to an earlier question — the form has moved on."


async def acknowledge(query: Any, text: str | None = None, show_alert: bool = False) -> None:
    """Answer a button press (the spinner stops, `text` shows as a toast). Telegram refuses
    to answer a press that waited too long — a backlog after a restart, say — and that must
    not stop the press from being handled, so the refusal is only logged."""
    try:
        await query.answer(text, show_alert=show_alert)
    except BadRequest as error:
        log.info("button press not answered: %s", error.message[:80])


def form_context(context: Ctx, person: Person, update: Update) -> FormContext:
    services = context.services
    return FormContext(db=services.db, scheme=services.scheme, person=person,
                       now=services.clock(), update_key=f"tg:{update.update_id}",
                       services={"media_intake": services.media_intake, "bot": context.bot})


# A draft is keyed by the person's id alone, so these use ctx.person as it is (no re-read of
# the person: nothing of theirs is written back, so a stale copy can't undo anything).


async def save(ctx: FormContext, state: dict[str, Any]) -> None:
    """Saved before the next question is sent: a crash after this loses nothing."""
    async with ctx.transaction() as s:
        await drafts.save_draft(s, ctx.scheme, ctx.person, TRANSPORT, state["form"], state,
                                now=ctx.now)


def count_form(context: Ctx, form: str, outcome: str) -> None:
    """Forms started, abandoned and submitted, for /metrics (when the process keeps them)."""
    metrics = context.services.extra.get("metrics")
    if metrics is not None:
        metrics.forms.labels(form=form, outcome=outcome).inc()


async def discard(ctx: FormContext) -> None:
    async with ctx.transaction() as s:
        await drafts.discard_draft(s, ctx.person, TRANSPORT)


async def load(ctx: FormContext) -> dict[str, Any] | None:
    async with ctx.db.transaction() as s:
        return await load_in(s, ctx.person, ctx.now)


async def load_in(session: AsyncSession, person: Person, now: dt.datetime
                  ) -> dict[str, Any] | None:
    """The form in progress, read in a transaction the caller already has open."""
    draft = await drafts.load_draft(session, person, TRANSPORT, now=now)
    return dict(draft.state) if draft else None


async def ask(chat: Any, form: Form, state: dict[str, Any], ctx: FormContext,
              refusal: str | None = None) -> None:
    """Send the current question (or the summary) as a new message (Telegram's answer is not
    parsed: nothing needs the question's message id)."""
    if state["step"] == SUMMARY:
        text, markup = render.summary(form, state, ctx.scheme, refusal)
    elif state["step"] == EDIT_MENU:
        text, markup = render.edit_menu(form, state)
    else:
        options = await engine.options_for(form, state, ctx)
        text, markup = render.question(form, state, options, ctx.scheme, ctx.now, refusal)
    await raw.send_message(chat.get_bot(), chat.id, text, markup)


async def start_form(update: Update, context: Ctx, person: Person, form: Form) -> None:
    """Begin a form; a different form already in progress is replaced, and the person told."""
    ctx = form_context(context, person, update)
    existing = await load(ctx)
    state = engine.new_state(form)
    engine.advance(form, state)
    await save(ctx, state)
    count_form(context, form.name, "started")
    if existing:
        count_form(context, existing.get("form", "?"), "abandoned")
    note = ""
    if existing and existing.get("form") != form.name:
        note = (f"(I've put aside your unfinished "
                f"{engine.form_named(existing['form']).title.lower()}.)\n")
    elif existing:
        note = "(Starting again from the beginning.)\n"
    if form.intro or note:
        await update.effective_chat.send_message(note + form.intro)
    await ask(update.effective_chat, form, state, ctx)


@dataclass
class Step:
    """A typed answer taken into the state: the question to send once the draft is saved."""

    form: Form
    state: dict[str, Any]
    ctx: FormContext
    refusal: str | None = None
    ask: bool = True


async def continue_form(update: Update, context: Ctx, person: Person, state: dict[str, Any],
                        answer: Answer) -> None:
    """A typed or sent answer to the current question."""
    ctx = form_context(context, person, update)
    step = await take(ctx, state, answer)
    await save(ctx, state)
    await tell(update.effective_chat, step)


async def take(ctx: FormContext, state: dict[str, Any], answer: Answer) -> Step:
    """Validate the answer and store it in `state` (nothing saved, nothing sent yet). Reads
    the database only when `engine.answer_needs_lookup` says so."""
    form = engine.form_named(state["form"])
    if state["step"] == SUMMARY or state["step"] == EDIT_MENU:
        return Step(form, state, ctx, "Please use the buttons: Submit, Edit or Cancel.")
    current = form.field(state["step"])
    if current.kind == "when" and state.get("picked_day") and answer.text:
        answer = Answer(text=_on_picked_day(state, answer.text))
    refusal = await engine.take_answer(form, state, answer, ctx)
    if refusal is None and current.kind == "when":
        state.pop("picked_day", None)
    if refusal is None and current.kind == "photos" and state["step"] == current.name:
        # An album arrives as one update per photo: acknowledge its first photo only, so one
        # album gets one answer, not ten.
        pending = state.get("pending_photos", [])
        album = (answer.photos or [{}])[0].get("album")
        first = album is None or sum(1 for p in pending if p.get("album") == album) == 1
        return Step(form, state, ctx, None, ask=first)
    return Step(form, state, ctx, refusal)


def draft_save(step: Step) -> drafts.DraftSave:
    """A taken answer's draft, to be saved with its update recorded as processed, in the
    transaction that read the draft (`updates.arrive`)."""
    step.ctx.update_key = None  # recorded there
    return drafts.draft_save(step.ctx.scheme, step.ctx.person, TRANSPORT, step.state["form"],
                             step.state, now=step.ctx.now)


async def tell(chat: Any, step: Step) -> None:
    """Send what a taken answer calls for (after its draft was saved)."""
    if step.ask:
        await ask(chat, step.form, step.state, step.ctx, step.refusal)


def _on_picked_day(state: dict[str, Any], typed: str) -> str:
    day = dt.date.fromisoformat(state["picked_day"])
    return f"{day:%d/%m/%Y} {typed.strip()}"


async def on_button(update: Update, context: Ctx, person: Person, state: dict[str, Any] | None,
                    seq: int, op: str, arg: str) -> None:
    """A tap on one of the form's inline buttons."""
    query = update.callback_query
    if state is None or seq != state["seq"]:
        await acknowledge(query, STALE_BUTTON)
        return
    form = engine.form_named(state["form"])
    ctx = form_context(context, person, update)
    chat = update.effective_chat
    refusal: str | None = None
    shown: str | None = None
    if op == "cancel":
        await discard(ctx)
        count_form(context, form.name, "abandoned")
        await acknowledge(query, "Cancelled")
        await _close(query.message, "Cancelled — nothing was sent. Send /menu to start again.")
        return
    if op == "submit":
        await _submit(update, context, person, form, state, ctx)
        return
    if op == "pick":
        current = form.field(state["step"])
        options = await engine.options_for(form, state, ctx)
        index = int(arg) if arg.isdigit() else -1
        if current.kind == "multi":
            refusal = await engine.take_answer(form, state, Answer(choice=index), ctx)
            await save(ctx, state)
            await acknowledge(query)
            _, markup = render.question(form, state, options, ctx.scheme, ctx.now)
            await _edit_markup(query.message, markup)
            return
        if 0 <= index < len(options):
            shown = options[index].label
        if current.kind == "date":
            refusal = await engine.take_answer(form, state, Answer(
                text=dt.date.fromisoformat(options[index].value).strftime("%d/%m/%Y")), ctx) \
                if 0 <= index < len(options) else "Please tap one of the buttons."
        else:
            refusal = await engine.take_answer(form, state, Answer(choice=index), ctx)
    elif op == "done":
        current = form.field(state["step"])
        refusal = (engine.finish_photos(form, state) if current.kind == "photos"
                   else engine.finish_multi(form, state))
        if refusal is None and current.kind == "multi":
            shown = engine.display(current, state["answers"].get(current.name), ctx.scheme)
    elif op == "back":
        engine.go_back(form, state)
        state.pop("picked_day", None)
    elif op == "skip":
        refusal = engine.skip(form, state)
        shown = "Skipped" if refusal is None else None
    elif op == "day":
        state["picked_day"] = arg
        state["seq"] += 1
    elif op == "time":
        refusal = await engine.take_answer(form, state, Answer(
            text=_on_picked_day(state, arg)), ctx)
        if refusal is None:
            state.pop("picked_day", None)
            shown = engine.display(form.field(state["history"][-1]),
                                   state["answers"][state["history"][-1]], ctx.scheme)
    elif op == "edit":
        state["step"] = EDIT_MENU
        state["seq"] += 1
    elif op == "field":
        engine.edit(form, state, arg)
    elif op == "summary":
        state["step"] = SUMMARY
        state["seq"] += 1
    await save(ctx, state)
    await acknowledge(query)
    if shown is not None:
        await _close(query.message, f"{query.message.text}\n→ {shown}")
    else:
        await _edit_markup(query.message, None)
    await ask(chat, form, state, ctx, refusal)


async def _submit(update: Update, context: Ctx, person: Person, form: Form,
                  state: dict[str, Any], ctx: FormContext) -> None:
    query = update.callback_query
    try:
        confirmation = await form.submit(ctx, state["answers"])
    except Refused as refusal:
        # The rule said no: the draft stays, the summary comes back with the reason, and the
        # field at fault is one tap away through Edit.
        await acknowledge(query)
        if isinstance(refusal, Conflict) and "already handled" in refusal.sentence:
            return
        state["seq"] += 1
        ctx.update_key = None
        await save(ctx, state)
        await _edit_markup(query.message, None)
        await ask(update.effective_chat, form, state, ctx, refusal.sentence)
        return
    ctx.update_key = None
    await discard(ctx)
    count_form(context, form.name, "submitted")
    await acknowledge(query, "Sent")
    await _close(query.message, query.message.text + "\n\n✅ Submitted")
    await update.effective_chat.send_message(confirmation + "\n\nSend /menu for anything else.")


async def _close(message: Message | None, text: str) -> None:
    if message is None:
        return
    try:
        await message.edit_text(text[:4096], reply_markup=None)
    except BadRequest:
        pass  # the message is too old to edit or unchanged: nothing a person needs to see


async def _edit_markup(message: Message | None, markup: InlineKeyboardMarkup | None) -> None:
    if message is None:
        return
    try:
        await message.edit_reply_markup(reply_markup=markup)
    except BadRequest:
        pass


def when_label(value: str, tz: str) -> str:
    return format_when(dt.datetime.fromisoformat(value), tz)
