""""Can't come" may carry a note: after the button the bot asks for one (a force-reply), and the
answer (or "skip") is kept with the reply. Routed before the weekly catch-up answer, so a note
is never taken for a catch-up."""

from __future__ import annotations

from telegram import Chat, ForceReply, Update

from handlers.telegram.context import Ctx
from storage.errors import Refused
from storage.models import Person
from storage.operations import meetings, people

NOTE_QUESTION = "Sorry you can't come."
SKIP_WORDS = {"skip", "no", "none", "no thanks", "-"}


async def ask_note(chat: Chat) -> None:
    """Ask why, optionally; the office sees the note beside the name."""
    await chat.send_message(
        f"{NOTE_QUESTION} If you'd like the office to know why, reply with a short note — "
        "or send “skip”.",
        reply_markup=ForceReply(input_field_placeholder="Why you can't come (or skip)"))


class _NotANote(Exception):
    """Rolls the transaction back: the text was not a note."""


async def note_given(update: Update, context: Ctx, person: Person, text: str, *,
                     in_form: bool = False) -> bool:
    """True when `text` was the note (or "skip") for a "can't come" just given. With a form
    in progress only a reply to the question counts: plain text answers the form."""
    replied = update.message.reply_to_message
    replying = bool(replied and replied.from_user and replied.from_user.is_bot and
                    (replied.text or "").startswith(NOTE_QUESTION))
    if replied is not None and not replying:
        return False                       # a reply to something else (the catch-up)
    skip = text.strip().lower().rstrip(".!") in SKIP_WORDS
    if (skip or in_form) and not replying:
        return False
    if skip:
        await update.effective_chat.send_message("All right — your answer stands without a note.")
        return True
    services = context.services
    try:
        async with context.handling.transaction() as s:
            kept = await meetings.do_note_cant_come(
                s, services.scheme, note=text, actor=await people.get_person(s, person.id),
                replying=replying, now=services.clock())
            if kept is None:
                raise _NotANote
    except _NotANote:
        return False
    except Refused as refusal:
        await update.effective_chat.send_message(refusal.sentence)
        return True
    await update.effective_chat.send_message("Thank you — I've passed your note to the office.")
    return True
