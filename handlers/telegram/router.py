"""Every Telegram update comes through here: who is it, and what do they want.

Unknown people get one polite sentence and nothing else; groups are told to talk privately;
then commands, buttons and answers go to the menu or the form in progress. An update seen
before never gets here (handlers/telegram/once.py); what changes records does so in
`context.handling.transaction()`, which records the update with the change.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType

from handlers import log_context
from handlers.forms import engine, flows  # noqa: F401  (flows registers the forms)
from handlers.forms.state import FormState
from handlers.telegram import conversation, render
from handlers.telegram.context import Ctx
from handlers.telegram import meeting_reply, mine
from handlers.telegram.mine import show_mine
from storage.errors import NotAllowed, Refused
from storage.models import Person
from storage.permissions import Action, require
from storage.operations import access, meetings, people, reminders

log = logging.getLogger(__name__)

STRANGER = ("Sorry, this bot is only for the Community Ambassador scheme. If you've been "
            "invited, please open the link the office sent you.")
GROUP = "Please talk to me privately — open a chat with me directly. I don't work in groups."
EDITED = ("I noticed you edited a message. Edits aren't picked up, so please send the "
          "corrected answer as a new message.")
INACTIVE = ("Your account is not active. Please contact the engagement team if you think this "
            "is a mistake.")
HELP = ("I help you keep the office up to date from your phone.\n"
        "/menu — everything you can do\n"
        "/prenotify — tell the office about an upcoming engagement\n"
        "/feedback — write up an engagement\n"
        "/photos — send photos or video from an engagement\n"
        "/grant — recommend a community grant\n"
        "/hours — log your hours\n"
        "/expenses — claim expenses\n"
        "/mine — your engagements, grants and hours\n"
        "/away — pause reminders while you're away\n"
        "/cancel — stop what you're doing\n"
        "Every question has Back and Cancel buttons; nothing is sent until you tap Submit.")
FORM_COMMANDS = {"prenotify": "prenotify", "feedback": "feedback", "grant": "grant",
                 "hours": "hours", "expenses": "expenses", "away": "away", "photos": "photos"}
MENU = [("📅 Pre-notify an engagement", "prenotify"), ("📝 File feedback", "feedback"),
        ("📷 Send photos or video", "photos"), ("💷 Recommend a grant", "grant"),
        ("⏱ Log hours", "hours"), ("🧾 Claim expenses", "expenses"),
        ("📋 My records", "mine"), ("🌴 I'm away", "away")]


def menu_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=f"m|{action}")]
                                 for label, action in MENU])


async def on_update(update: Update, context: Ctx) -> None:
    """The router (see module docstring); `once.first_look` has read what arrived."""
    handling = context.handling
    chat = update.effective_chat
    if chat.type != ChatType.PRIVATE:
        if update.message and update.message.text and update.message.text.startswith("/"):
            await update.message.reply_text(GROUP)
        return
    if update.edited_message is not None:
        await chat.send_message(EDITED)
        return
    message = update.message
    text = message.text if message and message.text else None
    person, stored = handling.arrival.person, handling.arrival.draft_state
    state = FormState.from_json(stored) if stored is not None else None
    log_context.about_person(person.id if person is not None else None)
    if handling.taken is not None:
        await conversation.tell(chat, handling.taken)
        return
    if person is None:
        await _stranger(update, context, text)
        return
    if not person.active:
        await _refuse(update, context, access.TELEGRAM_INACTIVE, INACTIVE, person)
        if update.callback_query:
            await conversation.acknowledge(update.callback_query)
        await chat.send_message(INACTIVE)
        return
    if update.callback_query is not None:
        await _on_callback(update, context, person)
        return
    if message is None:
        return
    if text and text.startswith("/"):
        await _on_command(update, context, person, text)
        return
    # A note for "can't come" first: it is a reply to the bot's question, never a catch-up.
    if text and await meeting_reply.note_given(update, context, person, text,
                                               in_form=state is not None):
        return
    if engine.submitted(state):
        await conversation.already_sent(update, context, person, state)
        return
    if state is None:
        if text and await _catch_up_answer(update, context, person, text):
            return
        await chat.send_message("Send /menu to see what I can do.", reply_markup=None)
        return
    await conversation.continue_form(update, context, person, state,
                                     conversation.answer_of(message))


async def _refuse(update: Update, context: Ctx, action: str, sentence: str,
                  person: Person | None) -> None:
    """Audit a refusal at the door (who knocked, never what they wrote), with the update."""
    async with context.handling.transaction() as s:
        access.record_refused_entry(s, action, reason=sentence, actor=person,
                                    caller=f"telegram user {update.effective_user.id}")


async def _stranger(update: Update, context: Ctx, text: str | None) -> None:
    """Only `/start <valid code>` gets anything beyond one polite sentence. Every refusal is
    audited (who knocked, never what they wrote)."""
    chat = update.effective_chat
    parts = (text or "").split()
    if len(parts) == 2 and parts[0].split("@")[0] == "/start":
        services = context.services
        try:
            async with context.handling.transaction() as s:
                person = await people.do_redeem_invite(s, services.scheme, code=parts[1],
                                                       telegram_id=update.effective_user.id,
                                                       now=services.clock())
        except Refused as refusal:
            await _refuse(update, context, access.TELEGRAM_STRANGER, refusal.sentence, None)
            await chat.send_message(refusal.sentence)
            return
        await chat.send_message(f"Welcome, {person.name}! Your account is linked to the "
                                f"{services.scheme.name}.\n\n{HELP}", reply_markup=menu_markup())
        return
    await _refuse(update, context, access.TELEGRAM_STRANGER, STRANGER, None)
    if update.callback_query:
        await conversation.acknowledge(update.callback_query)
    await chat.send_message(STRANGER)


async def _on_command(update: Update, context: Ctx, person: Person, text: str) -> None:
    command = text.split()[0][1:].split("@")[0].lower()
    chat = update.effective_chat
    if command == "start":
        await chat.send_message(f"You're already linked, {person.name}. What would you like to "
                                "do?", reply_markup=menu_markup())
    elif command == "menu":
        await _menu(update, context, person)
    elif command == "help":
        await chat.send_message(HELP)
    elif command == "cancel":
        ctx = conversation.form_context(context, person, update)
        had = await conversation.load(ctx)
        if engine.submitted(had):
            await conversation.already_sent(update, context, person, had)
            return
        await conversation.discard(ctx)
        if had:
            conversation.count_form(context, had.form, "abandoned")
        await chat.send_message("Cancelled — nothing was sent." if had else
                                "There was nothing to cancel.", reply_markup=menu_markup())
    elif command == "mine":
        await show_mine(update, context, person)
    elif command in FORM_COMMANDS:
        await _begin(update, context, person, FORM_COMMANDS[command])
    else:
        await chat.send_message(f"I don't know /{command[:30]}. Send /menu to see what I can do.")


async def _menu(update: Update, context: Ctx, person: Person) -> None:
    ctx = conversation.form_context(context, person, update)
    state = await conversation.load(ctx)
    if state is not None and not engine.submitted(state):
        form = engine.form_named(state.form)
        await update.effective_chat.send_message(
            f"You have an unfinished {form.title.lower()}. Carry on where you stopped?",
            reply_markup=InlineKeyboardMarkup([
                [InlineKeyboardButton("▶ Carry on", callback_data="m|resume")],
                [InlineKeyboardButton("✖ Discard it", callback_data="m|discard")]]))
        return
    aside = "".join(f"\n(Kept for later: your {conversation.noun(engine.form_named(s.form))}, "
                    f"{conversation.answers_kept(s)}.)" for s in await conversation.kept(ctx))
    await update.effective_chat.send_message("What would you like to do?" + aside,
                                             reply_markup=menu_markup())


async def _begin(update: Update, context: Ctx, person: Person, name: str) -> None:
    """Start a form, unless the role matrix says no: then one sentence (audited) now, rather
    than at Submit after every question."""
    action = Action.RECOMMEND_GRANT if name == "grant" else Action.OWN_RECORDS
    try:
        async with context.services.db.transaction():
            require(person, action, target_type="form_drafts")
    except NotAllowed as refusal:
        await update.effective_chat.send_message(refusal.sentence)
        return
    await conversation.start_form(update, context, person, engine.form_named(name))


async def _on_callback(update: Update, context: Ctx, person: Person) -> None:
    query = update.callback_query
    raw = query.data or ""
    if raw.startswith("m|"):
        action = raw[2:]
        await conversation.acknowledge(query)
        if action == "mine":
            await show_mine(update, context, person)
        elif action == "resume":
            ctx = conversation.form_context(context, person, update)
            state = await conversation.load(ctx)
            if state is None:
                await update.effective_chat.send_message("That form has expired; send /menu.")
                return
            if engine.submitted(state):
                await conversation.already_sent(update, context, person, state)
                return
            await conversation.ask(update.effective_chat, engine.form_named(state.form),
                                   state, ctx)
        elif action == "discard":
            ctx = conversation.form_context(context, person, update)
            await conversation.discard(ctx)
            await update.effective_chat.send_message("Discarded. What would you like to do?",
                                                     reply_markup=menu_markup())
        elif action in FORM_COMMANDS:
            await _begin(update, context, person, action)
        elif action.startswith(("keep|", "fresh|")):
            kind, name = action.split("|", 1)
            if name in FORM_COMMANDS.values():
                await conversation.carry_on(update, context, person, name, again=kind == "fresh")
            else:
                await update.effective_chat.send_message("That button is no longer valid; "
                                                         "send /menu.")
        elif action.startswith("correct|"):
            await _correct(update, context, person, action.split("|", 1)[1])
        return
    if raw.startswith("r|"):
        await _rsvp(update, context, person, raw)
        return
    parsed = render.parse_data(raw)
    ctx = conversation.form_context(context, person, update)
    state = await conversation.load(ctx)
    if parsed is None or state is None or parsed[0] != state.seq:
        await conversation.acknowledge(query, conversation.STALE_BUTTON)
        return
    await conversation.on_button(update, context, person, state, *parsed)


async def _correct(update: Update, context: Ctx, person: Person, engagement_id: str) -> None:
    """Open a planned engagement's answers at the summary, ready for Edit (or a queried
    claim, or the time given with feedback: "claim:<id>", "hours:<id>")."""
    if not engagement_id.isdigit() and ":" in engagement_id:
        await mine.open_correction(update, context, person, engagement_id)
        return
    ctx = conversation.form_context(context, person, update)
    form = engine.form_named("correct_engagement")
    try:
        answers = await flows.correction_answers(ctx, int(engagement_id))
    except (ValueError, Refused) as problem:
        await update.effective_chat.send_message(
            getattr(problem, "sentence", "That engagement can't be found."))
        return
    state = engine.new_state(form)
    state.answers = answers
    state.labels = {"duration": [[answers["duration"],
                                     flows.duration_label(answers["duration"])]]}
    state.step = engine.SUMMARY
    await conversation.save(ctx, state, activate=True)
    await conversation.ask(update.effective_chat, form, state, ctx)


CATCH_UP_QUESTION = "Weekly catch-up:"   # how the question starts (storage/operations/reminders)


async def _catch_up_answer(update: Update, context: Ctx, person: Person, text: str) -> bool:
    """Text with no form in progress answers this week's catch-up question when it is open
    (or when it is a reply to that question): it goes to the engagements channel. False when
    it is not an answer, and nothing was changed."""
    replied = update.message.reply_to_message
    replying = bool(replied and replied.from_user and replied.from_user.is_bot and
                    (replied.text or "").startswith(CATCH_UP_QUESTION))
    services = context.services
    try:
        async with context.handling.transaction() as s:
            row = await reminders.do_answer_open_catch_up(
                s, services.scheme, text=text, actor=await people.get_person(s, person.id),
                now=services.clock(), replying=replying)
            if row is None:
                raise _NotAnAnswer
    except _NotAnAnswer:
        return False
    except Refused as refusal:
        await update.effective_chat.send_message(refusal.sentence)
        return True
    await update.effective_chat.send_message(
        "Thank you — I've passed that to the engagement team.", reply_markup=menu_markup())
    return True


class _NotAnAnswer(Exception):
    """Rolls the transaction back: the text was not a catch-up answer."""


async def _rsvp(update: Update, context: Ctx, person: Person, raw: str) -> None:
    query = update.callback_query
    try:
        _, meeting_id, answer = raw.split("|")
        async with context.handling.transaction() as s:
            await meetings.do_rsvp(s, context.services.scheme, meeting_id=int(meeting_id),
                                   answer=answer,
                                   actor=await people.get_person(s, person.id),
                                   now=context.services.clock())
    except (ValueError, Refused) as problem:
        sentence = getattr(problem, "sentence", "That button is no longer valid.")
        await conversation.acknowledge(query, sentence[:190], show_alert=True)
        return
    await conversation.acknowledge(query, "Thanks — noted.")
    await conversation.close_question(query.message, f"{query.message.text}\n→ You said: {answer}")
    if answer == "no":
        await meeting_reply.ask_note(update.effective_chat)
