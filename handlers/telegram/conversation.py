"""Runs the declared forms as Telegram conversations (DESIGN §4): one question at a time,
buttons for choices, Back, Skip, /cancel, a summary with Edit before Submit, and the draft
saved after every answer so a restart resumes where the ambassador stopped."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest

from handlers.forms import engine
from handlers.forms.engine import EDIT_MENU, SUMMARY, Answer, Form, FormContext
from handlers.forms.state import FormState
from handlers.telegram import raw, render
from handlers.telegram.context import Ctx
from handlers.telegram.media import albums_of, subject
from storage.errors import MediaRefused, Refused
from storage.media import naming
from storage.models import Person
from storage.operations import drafts, updates

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
                       now=services.clock(), once=context.handling.once,
                       services={"media_intake": services.media_intake, "bot": context.bot,
                                 "albums": albums_of(context.application)})


# Drafts are keyed by the person's id (and form), so these use ctx.person as it is (no re-read
# of the person: nothing of theirs is written back, so a stale copy can't undo anything).


async def save(ctx: FormContext, state: FormState, *, activate: bool = False) -> None:
    """Saved before the next question is sent: a crash after this loses nothing. `activate`:
    this becomes the form the person is in (whichever they were in is kept, put aside)."""
    async with ctx.transaction() as s:
        await drafts.save_draft(s, ctx.scheme, ctx.person, TRANSPORT, state.form,
                                state.to_json(), activate=activate, now=ctx.now)


def count_form(context: Ctx, form: str, outcome: str) -> None:
    """Forms started, abandoned and submitted, for /metrics (when the process keeps them)."""
    metrics = context.services.extra.get("metrics")
    if metrics is not None:
        metrics.forms.labels(form=form, outcome=outcome).inc()


async def discard(ctx: FormContext) -> None:
    """The form the person is in is thrown away (forms they put aside are kept)."""
    async with ctx.transaction() as s:
        await drafts.discard_draft(s, ctx.person, TRANSPORT)


async def load(ctx: FormContext) -> FormState | None:
    """The form the person is in (a form already sent shows as such: `engine.submitted`)."""
    async with ctx.db.transaction() as s:
        return await load_in(s, ctx.person, ctx.now)


async def load_in(session: AsyncSession, person: Person, now: dt.datetime
                  ) -> FormState | None:
    """The form in progress, read in a transaction the caller already has open."""
    draft = await drafts.load_draft(session, person, TRANSPORT, now=now)
    return FormState.from_json(draft.state) if draft else None


async def kept(ctx: FormContext) -> list[FormState]:
    """Forms put aside with answers in them, to carry on later."""
    async with ctx.db.transaction() as s:
        found = await drafts.kept_drafts(s, ctx.person, TRANSPORT, now=ctx.now)
    states = [FormState.from_json(d.state) for d in found if not d.active]
    return [s for s in states if engine.answered(s) and not engine.submitted(s)]


# What a form is called in "your …" (its title is an instruction: "File feedback").
NOUNS = {"prenotify": "pre-notification", "feedback": "feedback",
         "grant": "grant recommendation", "hours": "hours", "expenses": "expenses claim",
         "away": "away dates", "photos": "photos", "correct_engagement": "correction"}


def noun(form: Form) -> str:
    return NOUNS.get(form.name, form.title.lower())


def answers_kept(state: FormState) -> str:
    count = engine.answered(state)
    return f"{count} answer{'s' if count != 1 else ''} kept"


def carry_on_markup(form: Form) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([
        [InlineKeyboardButton("▶ Carry on", callback_data=f"m|keep|{form.name}")],
        [InlineKeyboardButton("↺ Start again", callback_data=f"m|fresh|{form.name}")]])


async def ask(chat: Any, form: Form, state: FormState, ctx: FormContext,
              refusal: str | None = None) -> None:
    """Send the current question (or the summary) as a new message. A photo question's
    message id is kept: the count of what arrives is edited into it (`show_count`)."""
    if state.step == SUMMARY:
        text, markup = render.summary(form, state, ctx.scheme, refusal)
    elif state.step == EDIT_MENU:
        text, markup = render.edit_menu(form, state)
    else:
        options = await engine.options_for(form, state, ctx)
        text, markup = render.question(form, state, options, ctx.scheme, ctx.now, refusal)
    sent = await raw.send_message(chat.get_bot(), chat.id, text, markup)
    albums = ctx.services.get("albums")
    if sent is not None and albums is not None and _at_photos(form, state):
        albums.counter_sent(chat.id, form.name, state.seq, sent)


def _at_photos(form: Form, state: FormState) -> bool:
    return state.step not in (SUMMARY, EDIT_MENU, None) and \
        form.field(state.step).kind == "photos"


async def show_count(chat: Any, form: Form, state: FormState, ctx: FormContext, *,
                     checking: int = 0) -> None:
    """The photo question rewritten in place with how many have arrived ("Received 3 so
    far", or that a big one is still being checked), keeping its one set of buttons; sent
    anew when its message is not known (after a restart) or can no longer be edited."""
    albums = ctx.services.get("albums")
    message_id = albums.counter(chat.id, form.name, state.seq) if albums else None
    if message_id is None:
        if not checking:
            await ask(chat, form, state, ctx)
        return
    text, markup = render.question(form, state, [], ctx.scheme, ctx.now, checking=checking)
    try:
        await chat.get_bot().edit_message_text(text, chat_id=chat.id, message_id=message_id,
                                               reply_markup=markup)
    except BadRequest as error:
        if "not modified" not in error.message.lower() and not checking:
            await ask(chat, form, state, ctx)


async def start_form(update: Update, context: Ctx, person: Person, form: Form) -> None:
    """Begin a form. A draft of it with answers in it is offered first (Carry on / Start
    again); the form the person was in is kept, put aside, for later."""
    ctx = form_context(context, person, update)
    async with ctx.db.transaction() as s:
        earlier = await drafts.kept_draft(s, person, TRANSPORT, form.name, now=ctx.now)
        earlier_state = FormState.from_json(earlier.state) if earlier is not None else None
    if earlier_state and engine.answered(earlier_state) and \
            not engine.submitted(earlier_state):
        await update.effective_chat.send_message(
            f"Carry on with your {noun(form)}? ({answers_kept(earlier_state)})",
            reply_markup=carry_on_markup(form))
        return
    await begin(update, context, ctx, form, replacing=earlier_state)


async def begin(update: Update, context: Ctx, ctx: FormContext, form: Form, *,
                replacing: FormState | None = None,
                state: FormState | None = None) -> None:
    """Make `form` the one the person is in: from `state` (carrying on) or from its first
    question (`replacing` the draft of it there was, if any). The form they were in is put
    aside when it has answers — it is kept, and they are told how to come back to it — and
    dropped when it has none (nothing to lose)."""
    fresh = state is None
    if state is None:
        state = engine.new_state(form)
        engine.advance(form, state)
    async with ctx.transaction() as s:
        before = await drafts.load_draft(s, ctx.person, TRANSPORT, now=ctx.now)
        left = (FormState.from_json(before.state)
                if before is not None and before.form != form.name else None)
        if left is not None and (not engine.answered(left) or engine.submitted(left)):
            await drafts.discard_draft(s, ctx.person, TRANSPORT, left.form)
        await drafts.save_draft(s, ctx.scheme, ctx.person, TRANSPORT, form.name,
                                state.to_json(), activate=True, now=ctx.now)
    if fresh:
        count_form(context, form.name, "started")
        if replacing is not None:
            count_form(context, form.name, "abandoned")
    note = ""
    if left is not None and not engine.answered(left) and not engine.submitted(left):
        count_form(context, left.form, "abandoned")
    elif left is not None and not engine.submitted(left):
        aside = engine.form_named(left.form)
        back = f" — /{aside.command} carries on with it" if aside.command else ""
        note = (f"(I've put aside your unfinished {noun(aside)}, {answers_kept(left)}"
                f"{back}.)\n")
    if fresh and replacing is not None and engine.answered(replacing):
        note += "(Starting again from the beginning.)\n"
    said = (note + form.intro if fresh else note).strip()
    if said:
        await update.effective_chat.send_message(said)
    await ask(update.effective_chat, form, state, ctx)


async def carry_on(update: Update, context: Ctx, person: Person, name: str, *,
                   again: bool) -> None:
    """The answer to "Carry on with your …?": the kept draft resumed where it stopped, or
    (`again`) replaced by a fresh start."""
    ctx = form_context(context, person, update)
    form = engine.form_named(name)
    async with ctx.db.transaction() as s:
        earlier = await drafts.kept_draft(s, person, TRANSPORT, name, now=ctx.now)
        state = FormState.from_json(earlier.state) if earlier is not None else None
    if state is not None and engine.submitted(state):
        state = None
    if state is None and not again:
        await update.effective_chat.send_message(
            f"Your {noun(form)} has expired or was already sent. Send /{form.command} "
            "to start it again." if form.command else "That form has expired; send /menu.")
        return
    if again:
        await begin(update, context, ctx, form, replacing=state)
    else:
        await begin(update, context, ctx, form, state=state)


async def already_sent(update: Update, context: Ctx, person: Person, state: FormState,
                       *, redelivered: bool = False) -> None:
    """A form already sent to the office, whose person may not have been told (the process
    stopped between the record and the thank-you, or the thank-you failed): they are told
    now, with what was sent, and the draft goes. A Submit delivered again by Telegram is
    answered only if its queued notice has not gone out meanwhile; a press is always answered."""
    ctx = form_context(context, person, update)
    async with ctx.transaction() as s:
        untold = await drafts.do_close_submitted(s, person, TRANSPORT, state.to_json())
    if redelivered and not untold:
        return
    form = engine.form_named(state.form)
    if update.callback_query is not None:
        await acknowledge(update.callback_query, "Already sent")
    await update.effective_chat.send_message(sent_summary(form, state, ctx))


def sent_summary(form: Form, state: FormState, ctx: FormContext) -> str:
    lines = "\n".join(f"• {label}: {value}"
                      for label, value in engine.summary_lines(form, state, ctx.scheme))
    return f"✅ Already sent to the office — your {noun(form)}:\n{lines}"[:4096]


@dataclass
class Step:
    """A typed answer taken into the state: the question to send once the draft is saved."""

    form: Form
    state: FormState
    ctx: FormContext
    refusal: str | None = None
    ask: bool = True
    photo: bool = False             # a photo taken: acknowledged as its album allows
    album: str | None = None
    arrived: list[dict[str, Any]] | None = None  # the photos taken: checked once saved


async def continue_form(update: Update, context: Ctx, person: Person, state: FormState,
                        answer: Answer) -> None:
    """A typed or sent answer to the current question."""
    ctx = form_context(context, person, update)
    step = await take(ctx, state, answer)
    await save(ctx, state)
    await tell(update.effective_chat, step)


async def take(ctx: FormContext, state: FormState, answer: Answer) -> Step:
    """Validate the answer and store it in `state` (nothing saved, nothing sent yet). Reads
    the database only when `engine.answer_needs_lookup` says so."""
    form = engine.form_named(state.form)
    if state.step == SUMMARY or state.step == EDIT_MENU:
        return Step(form, state, ctx, "Please use the buttons: Submit, Edit or Cancel.")
    current = form.field(state.step)
    if current.kind == "when" and state.picked_day and answer.text:
        answer = Answer(text=_on_picked_day(state, answer.text))
    refusal = await engine.take_answer(form, state, answer, ctx)
    if refusal is None and current.kind == "when":
        state.picked_day = None
    if refusal is None and current.kind == "photos" and state.step == current.name:
        return Step(form, state, ctx, None, photo=True,
                    album=(answer.photos or [{}])[0].get("album"), arrived=answer.photos)
    return Step(form, state, ctx, refusal)


def draft_save(step: Step) -> drafts.DraftSave:
    """A taken answer's draft, to be saved with its update recorded as processed, in the
    transaction that read the draft (`updates.arrive`)."""
    return drafts.draft_save(step.ctx.scheme, step.ctx.person, TRANSPORT, step.state.form,
                             step.state.to_json(), now=step.ctx.now)


class TypedAnswer:
    """A message answering the form in progress, taken inside the transaction that reads the
    update's arrival (`updates.arrive`): checked, taken into the draft read with it, and saved
    with the update recorded as processed, so a crash loses neither or keeps both. `step` is
    then what is left to send (None: the answer needs the ordinary path)."""

    def __init__(self, update: Update, context: Ctx) -> None:
        self.update, self.context = update, context
        self.step: Step | None = None

    @classmethod
    def of(cls, update: Update, context: Ctx) -> TypedAnswer | None:
        """One for a message in a private chat that is not a command; None otherwise."""
        message = update.message
        if update.callback_query is not None or message is None or \
                update.effective_chat.type != ChatType.PRIVATE or \
                (message.text or "").startswith("/"):
            return None
        return cls(update, context)

    async def take(self, arrived: updates.Arrival) -> drafts.DraftSave | None:
        self.step = None  # (run again, on a fresh read, if the shared transaction failed)
        stored = arrived.draft_state  # only an active person's
        state = FormState.from_json(stored) if stored is not None else None
        if state is None or engine.answer_needs_lookup(state) or engine.submitted(state):
            return None
        ctx = form_context(self.context, arrived.person, self.update)
        self.step = await take(ctx, state, answer_of(self.update.message))
        return draft_save(self.step)


def answer_of(message: Any) -> Answer:
    """What a message gives as an answer, whatever kind of message it is."""
    if message.text is not None:
        return Answer(text=message.text)
    if message.photo:
        best = message.photo[-1]
        return Answer(photos=[{"kind": "photo", "file_id": best.file_id,
                               "file_unique_id": best.file_unique_id,
                               "file_size": best.file_size,
                               "album": message.media_group_id,
                               "caption": message.caption}])
    if message.document:
        # Any file is offered to a photo question, which judges it by its content as it
        # arrives (a photo sent as a file is fine; a text file is refused by name); any other
        # question says it can't use "a file".
        doc = message.document
        video = (doc.mime_type or "").startswith("video/")
        return Answer(photos=[{"kind": "video" if video else "photo",
                               "file_id": doc.file_id, "file_unique_id": doc.file_unique_id,
                               "file_size": doc.file_size, "file_name": doc.file_name,
                               "album": message.media_group_id, "caption": message.caption}],
                      other="file")
    if message.video:
        video = message.video
        return Answer(photos=[{"kind": "video", "file_id": video.file_id,
                               "file_unique_id": video.file_unique_id,
                               "file_size": video.file_size,
                               "thumb_file_id": video.thumbnail.file_id if video.thumbnail
                               else None, "album": message.media_group_id,
                               "caption": message.caption}])
    if message.location:
        return Answer(location=(message.location.latitude, message.location.longitude))
    for attr, name in (("sticker", "sticker"), ("voice", "voice note"), ("audio", "audio file"),
                       ("video_note", "video message"), ("contact", "contact"),
                       ("animation", "GIF"), ("document", "file"), ("poll", "poll")):
        if getattr(message, attr, None):
            return Answer(other=name)
    return Answer(other="message of that kind")


async def ask_again(update: Update, context: Ctx, person: Person) -> None:
    """Telegram delivers again what an earlier run handled but never confirmed: that run may
    have stopped after saving the answer and before sending the next question (the answer is
    saved first, so nothing they typed is lost — but they would be left waiting). So the
    question their form is at now is sent again, once per person in this run (a backlog of
    several such updates gets one); at worst they see a question twice."""
    asked: set[int] = context.application.bot_data.setdefault("asked_again", set())
    if person.id in asked:
        return
    asked.add(person.id)
    ctx = form_context(context, person, update)
    state = await load(ctx)
    if engine.submitted(state):
        await already_sent(update, context, person, state, redelivered=True)
    elif state is not None:
        await ask(update.effective_chat, engine.form_named(state.form), state, ctx)


async def tell(chat: Any, step: Step) -> None:
    """Send what a taken answer calls for (after its draft was saved). An album arrives as
    one update per photo: it is acknowledged once, with its count, when it has all come."""
    albums = step.ctx.services.get("albums")
    if step.photo and await _refused_on_arrival(chat, step):
        return
    if step.photo and albums is not None and albums.photo_taken(
            chat.id, step.album, lambda: _acknowledge_album(chat, step)):
        return
    if step.photo:
        await show_count(chat, step.form, step.state, step.ctx)
    elif step.ask:
        await ask(chat, step.form, step.state, step.ctx, step.refusal)


async def _refused_on_arrival(chat: Any, step: Step) -> bool:
    """What can be refused from a photo's size and header is refused as it arrives, naming
    it, so the person knows which one while still sending (not after the consent questions
    and Submit): it is taken out of the draft again and a line under the count says why.
    The check fetches the file, so it runs here, after the arrival's transaction; the full
    check still runs at Submit. True when one was refused."""
    intake = step.ctx.services.get("media_intake")
    check = getattr(intake, "check", None)
    if check is None or not step.arrived:
        return False
    ids = [p.get("file_id") for p in step.state.pending_photos]
    for item in step.arrived:
        if intake.is_big(item):
            await show_count(chat, step.form, step.state, step.ctx,
                             checking=len(step.arrived))
        try:
            await check(step.ctx, item)
        except MediaRefused as refusal:
            number = ids.index(item["file_id"]) + 1 if item["file_id"] in ids else len(ids)
            log.info("media refused as it arrived (item %d)", number)
            state = await _drop_pending(step.ctx, step.state, item["file_id"])
            if state is not None:
                await show_count(chat, step.form, state, step.ctx)
            await chat.send_message(f"⚠️ {naming(refusal.sentence, subject(item, number))}")
            return True
    return False


async def _drop_pending(ctx: FormContext, taken: FormState,
                        file_id: str) -> FormState | None:
    """The draft without a refused photo (None: the form moved on meanwhile)."""
    async with ctx.db.transaction() as s:
        draft = await drafts.load_draft(s, ctx.person, TRANSPORT, now=ctx.now)
        state = FormState.from_json(draft.state) if draft is not None else None
        if state is None or (state.form, state.seq) != (taken.form, taken.seq):
            return None
        state.pending_photos = [p for p in state.pending_photos
                                   if p.get("file_id") != file_id]
        await drafts.save_draft(s, ctx.scheme, ctx.person, TRANSPORT, state.form,
                                state.to_json(), now=ctx.now)
    return state


async def _acknowledge_album(chat: Any, step: Step) -> None:
    """The count shown from the draft as it is now, if the form is still at the question."""
    state = await load(step.ctx)
    if state is not None and (state.form, state.step, state.seq) == (
            step.state.form, step.state.step, step.state.seq):
        await show_count(chat, step.form, state, step.ctx)


def _on_picked_day(state: FormState, typed: str) -> str:
    day = dt.date.fromisoformat(state.picked_day)
    return f"{day:%d/%m/%Y} {typed.strip()}"


async def on_button(update: Update, context: Ctx, person: Person, state: FormState | None,
                    seq: int, op: str, arg: str) -> None:
    """A tap on one of the form's inline buttons."""
    query = update.callback_query
    if state is None or seq != state.seq:
        await acknowledge(query, STALE_BUTTON)
        return
    if engine.submitted(state):
        # Sent already, but its person was never told (see `_submit`): told now.
        await already_sent(update, context, person, state)
        return
    form = engine.form_named(state.form)
    ctx = form_context(context, person, update)
    chat = update.effective_chat
    refusal: str | None = None
    shown: str | None = None
    if op == "cancel":
        await discard(ctx)
        count_form(context, form.name, "abandoned")
        await acknowledge(query, "Cancelled")
        await close_question(query.message, "Cancelled — nothing was sent. Send /menu to start again.")
        return
    if op == "submit":
        await _submit(update, context, person, form, state, ctx)
        return
    if op == "pick":
        current = form.field(state.step)
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
        current = form.field(state.step)
        refusal = (engine.finish_photos(form, state) if current.kind == "photos"
                   else engine.finish_multi(form, state))
        if refusal is None and current.kind == "multi":
            shown = engine.display(current, state.answers.get(current.name), ctx.scheme)
    elif op == "back":
        engine.go_back(form, state)
        state.picked_day = None
    elif op == "skip":
        refusal = engine.skip(form, state)
        shown = "Skipped" if refusal is None else None
    elif op == "day":
        state.picked_day = arg
        state.seq += 1
    elif op == "time":
        refusal = await engine.take_answer(form, state, Answer(
            text=_on_picked_day(state, arg)), ctx)
        if refusal is None:
            state.picked_day = None
            shown = engine.display(form.field(state.history[-1]),
                                   state.answers[state.history[-1]], ctx.scheme)
    elif op == "edit":
        state.step = EDIT_MENU
        state.seq += 1
    elif op == "field":
        engine.edit(form, state, arg)
    elif op == "summary":
        state.step = SUMMARY
        state.seq += 1
    await save(ctx, state)
    await acknowledge(query)
    if shown is not None:
        await close_question(query.message, f"{query.message.text}\n→ {shown}")
    else:
        await _edit_markup(query.message, None)
    await ask(chat, form, state, ctx, refusal)


async def _submit(update: Update, context: Ctx, person: Person, form: Form,
                  state: FormState, ctx: FormContext) -> None:
    """The record and, in its transaction, the draft marked as sent with a notice to the
    person queued: if the process stops before the thank-you below (or it cannot be sent),
    the Submit Telegram delivers again, or pressed again, answers "Already sent", and failing
    both the notice goes out. The draft and the notice go once the thank-you is sent."""
    query = update.callback_query

    async def mark_sent(session: AsyncSession) -> None:
        stored = state.to_json()
        await drafts.do_mark_submitted(
            session, ctx.scheme, ctx.person, TRANSPORT, stored,
            notice=sent_summary(form, state, ctx).replace("Already sent", "Sent", 1),
            now=ctx.now)
        state.submitted = stored["submitted"]

    ctx.finishing = mark_sent
    try:
        confirmation = await form.submit(ctx, state.answers)
    except Refused as refusal:
        # The rule said no: the draft stays, the summary comes back with the reason, and the
        # field at fault is one tap away through Edit.
        ctx.finishing = None
        await acknowledge(query)
        state.seq += 1
        await save(ctx, state)
        await _edit_markup(query.message, None)
        await ask(update.effective_chat, form, state, ctx, refusal.sentence)
        return
    finally:
        ctx.finishing = None
    count_form(context, form.name, "submitted")
    await acknowledge(query, "Sent")
    await close_question(query.message, query.message.text + "\n\n✅ Submitted")
    await update.effective_chat.send_message(confirmation + "\n\nSend /menu for anything else.")
    async with ctx.transaction() as s:   # told: nothing left to tell them
        await drafts.do_close_submitted(s, ctx.person, TRANSPORT, state.to_json())


async def close_question(message: Message | None, text: str) -> None:
    """Rewrite an answered question as what was said, without its buttons."""
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

