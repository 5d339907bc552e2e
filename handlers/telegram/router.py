"""Every Telegram update comes through here: who is it, is it new, what do they want.

Unknown people get one polite sentence and nothing else; groups are told to talk privately;
an update seen before is dropped (its key was stored with its effect); then commands, buttons
and answers go to the menu or the form in progress.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType

from handlers import log_context
from handlers.forms import engine, flows  # noqa: F401  (flows registers the forms)
from handlers.forms.engine import Answer
from handlers.telegram import conversation, render
from handlers.telegram.context import Ctx
from handlers.telegram import mine
from handlers.telegram.mine import show_mine
from storage.errors import Conflict, NotAllowed, Refused
from storage.models import Person
from storage.permissions import Action, require
from storage.operations import access, drafts, meetings, people, reminders, updates

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
    """The single entry point for updates (see module docstring)."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or user is None or user.is_bot:
        return
    if chat.type != ChatType.PRIVATE:
        if update.message and update.message.text and update.message.text.startswith("/") \
                and await handled_once(update, context):
            await update.message.reply_text(GROUP)
        return
    if update.edited_message is not None:
        if await handled_once(update, context):
            await chat.send_message(EDITED)
        return
    services = context.services
    message = update.message
    text = message.text if message and message.text else None
    # A typed answer needs the draft too: it is read with the person, in one query.
    typed = update.callback_query is None and message is not None and not (
        text and text.startswith("/"))
    taken: conversation.Step | None = None

    async def take(arrived: updates.Arrival) -> drafts.DraftSave | None:
        """The usual form step, inside the arrival's transaction: the answer checked and taken
        into the draft read with it, which is saved with the update recorded as processed."""
        nonlocal taken
        taken = None  # (run again, on a fresh read, if the shared transaction failed)
        state = arrived.draft_state  # only an active person's
        if not typed or state is None or engine.answer_needs_lookup(state) or \
                engine.submitted(state):
            return None
        ctx = conversation.form_context(context, arrived.person, update)
        taken = await conversation.take(ctx, state, _answer_of(message))
        return conversation.draft_save(taken)

    # The arrival's transaction is shared with the updates of other chats arriving at the same
    # moment (storage/operations/updates.py): in a burst, one commit for all of them.
    arrived = await updates.arrive(
        services.db, updates.telegram_key(update.update_id), telegram_id=user.id, take=take,
        draft_transport=conversation.TRANSPORT if typed else None, now=services.clock())
    if arrived.seen:
        if arrived.person is not None and arrived.person.active and \
                _handled_by_an_earlier_run(arrived, context):
            await _ask_again(update, context, arrived.person)
        return
    person, state = arrived.person, arrived.draft_state
    log_context.about_person(person.id if person is not None else None)
    if taken is not None:
        await conversation.tell(chat, taken)
        return
    if person is None:
        await _stranger(update, context, text)
        return
    if not person.active:
        if not await handled_once(update, context, refused=(
                access.TELEGRAM_INACTIVE, INACTIVE, person)):
            return
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
    if engine.submitted(state):
        await conversation.already_sent(update, context, person, state)
        return
    if state is None:
        if text and await _catch_up_answer(update, context, person, text):
            return
        if await handled_once(update, context):
            await chat.send_message("Send /menu to see what I can do.", reply_markup=None)
        return
    await conversation.continue_form(update, context, person, state, _answer_of(message))


def _handled_by_an_earlier_run(arrived: updates.Arrival, context: Ctx) -> bool:
    started = context.application.bot_data.get("started_at")
    return arrived.seen_at is not None and started is not None and arrived.seen_at < started


async def _ask_again(update: Update, context: Ctx, person: Person) -> None:
    """Telegram delivers again what an earlier run handled but never confirmed: that run may
    have stopped after saving the answer and before sending the next question (the answer is
    saved first, so nothing they typed is lost — but they would be left waiting). So the
    question their form is at now is sent again, once per person in this run (a backlog of
    several such updates gets one); at worst they see a question twice."""
    asked: set[int] = context.application.bot_data.setdefault("asked_again", set())
    if person.id in asked:
        return
    asked.add(person.id)
    ctx = conversation.form_context(context, person, update)
    state = await conversation.load(ctx)
    if engine.submitted(state):
        await conversation.already_sent(update, context, person, state, redelivered=True)
    elif state is not None:
        await conversation.ask(update.effective_chat, engine.form_named(state["form"]), state,
                               ctx)


def _answer_of(message: Any) -> Answer:
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


async def handled_once(update: Update, context: Ctx,
                       refused: tuple[str, str, Person | None] | None = None) -> bool:
    """For an answer that changes no record (help, the menu, a refusal, a stale button):
    record the update as handled — and audit the refusal, `(action, sentence, person)` — before
    answering, so a redelivered update is not answered twice. False when another delivery of
    the same update got there first: then say nothing."""
    try:
        async with context.services.db.transaction() as s:
            await updates.mark_processed(s, updates.telegram_key(update.update_id))
            if refused is not None:
                action, sentence, person = refused
                access.record_refused_entry(s, action, reason=sentence, actor=person,
                                            caller=f"telegram user {update.effective_user.id}")
    except Conflict:
        return False
    return True


async def _stranger(update: Update, context: Ctx, text: str | None) -> None:
    """Only `/start <valid code>` gets anything beyond one polite sentence. Every refusal is
    audited (who knocked, never what they wrote)."""
    chat = update.effective_chat
    parts = (text or "").split()
    if len(parts) == 2 and parts[0].split("@")[0] == "/start":
        services = context.services
        try:
            async with services.db.transaction() as s:
                await updates.mark_processed(s, updates.telegram_key(update.update_id))
                person = await people.do_redeem_invite(s, services.scheme, code=parts[1],
                                                       telegram_id=update.effective_user.id,
                                                       now=services.clock())
        except Refused as refusal:
            if await handled_once(update, context, refused=(
                    access.TELEGRAM_STRANGER, refusal.sentence, None)):
                await chat.send_message(refusal.sentence)
            return
        await chat.send_message(f"Welcome, {person.name}! Your account is linked to the "
                                f"{services.scheme.name}.\n\n{HELP}", reply_markup=menu_markup())
        return
    if not await handled_once(update, context, refused=(access.TELEGRAM_STRANGER, STRANGER,
                                                         None)):
        return
    if update.callback_query:
        await conversation.acknowledge(update.callback_query)
    await chat.send_message(STRANGER)


async def _on_command(update: Update, context: Ctx, person: Person, text: str) -> None:
    command = text.split()[0][1:].split("@")[0].lower()
    chat = update.effective_chat
    if command not in FORM_COMMANDS and command != "cancel" \
            and not await handled_once(update, context):
        return  # an answer that changes nothing, already given to this update
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
            conversation.count_form(context, had.get("form", "?"), "abandoned")
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
        form = engine.form_named(state["form"])
        await update.effective_chat.send_message(
            f"You have an unfinished {form.title.lower()}. Carry on where you stopped?",
            reply_markup=InlineKeyboardMarkup([
                [InlineKeyboardButton("▶ Carry on", callback_data="m|resume")],
                [InlineKeyboardButton("✖ Discard it", callback_data="m|discard")]]))
        return
    aside = "".join(f"\n(Kept for later: your {conversation.noun(engine.form_named(s['form']))}, "
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
        if await handled_once(update, context):
            await update.effective_chat.send_message(refusal.sentence)
        return
    await conversation.start_form(update, context, person, engine.form_named(name))


async def _on_callback(update: Update, context: Ctx, person: Person) -> None:
    query = update.callback_query
    raw = query.data or ""
    if raw.startswith("m|"):
        action = raw[2:]
        if action not in FORM_COMMANDS and action != "discard" \
                and not action.startswith(("correct|", "keep|", "fresh|")) \
                and not await handled_once(update, context):
            return
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
                await conversation.already_sent(update, context, person, state, record=False)
                return
            await conversation.ask(update.effective_chat, engine.form_named(state["form"]),
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
            elif await handled_once(update, context):
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
    if parsed is None or state is None or parsed[0] != state["seq"]:
        if await handled_once(update, context):
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
        if await handled_once(update, context):
            await update.effective_chat.send_message(
                getattr(problem, "sentence", "That engagement can't be found."))
        return
    state = engine.new_state(form)
    state["answers"] = answers
    state["labels"] = {"duration": [[answers["duration"],
                                     flows.duration_label(answers["duration"])]]}
    state["step"] = engine.SUMMARY
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
        async with services.db.transaction() as s:
            await updates.mark_processed(s, updates.telegram_key(update.update_id))
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
        async with context.services.db.transaction() as s:
            await updates.mark_processed(s, updates.telegram_key(update.update_id))
            await meetings.do_rsvp(s, context.services.scheme, meeting_id=int(meeting_id),
                                   answer=answer,
                                   actor=await people.get_person(s, person.id),
                                   now=context.services.clock())
    except (ValueError, Refused) as problem:
        sentence = getattr(problem, "sentence", "That button is no longer valid.")
        if await handled_once(update, context):
            await conversation.acknowledge(query, sentence[:190], show_alert=True)
        return
    await conversation.acknowledge(query, "Thanks — noted.")
    await conversation.close_question(query.message, f"{query.message.text}\n→ You said: {answer}")
