"""/mine: the ambassador's own engagements, feedback due, grants and hours."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.telegram.context import Ctx
from storage.models import Person
from storage.operations.grants import STATUS_WORDS, GrantStatus
from storage.operations.overview import my_records
from storage.operations.people import get_person
from storage.parsers import format_money, format_when


async def show_mine(update: Update, context: Ctx, person: Person) -> None:
    """Send one message summarising the person's records, with a button for feedback due."""
    services = context.services
    tz = services.scheme.timezone
    async with services.db.transaction() as s:
        mine = await my_records(s, await get_person(s, person.id), now=services.clock(), tz=tz)
    lines = ["Your records"]
    lines.append("\nComing up:")
    lines += [f"• {format_when(e.starts_at, tz)} — {e.title}" for e in mine.upcoming] or \
        ["• nothing pre-notified"]
    lines.append("\nFeedback due:")
    lines += [f"• {e.title} ({format_when(e.starts_at, tz)})" for e in mine.feedback_due] or \
        ["• none — thank you!"]
    if mine.recent_feedback:
        lines.append("\nRecent feedback:")
        lines += [f"• {e.title}: {f.attendees} people, {f.urgency}"
                  for e, f in mine.recent_feedback]
    lines.append("\nGrant recommendations:")
    lines += [f"• {format_money(g.amount_pence)} to {g.applicant_organisation}: "
              f"{STATUS_WORDS[GrantStatus(g.status)]}" for g in mine.grants] or ["• none yet"]
    hours = mine.minutes_this_month / 60
    lines.append(f"\nHours this month: {hours:.1f} of {mine.monthly_hours}")
    buttons = [[InlineKeyboardButton(f"✏️ Correct: {e.title[:40]}",
                                     callback_data=f"m|correct|{e.id}")]
               for e in mine.upcoming[:5]]
    if mine.feedback_due:
        buttons.append([InlineKeyboardButton("📝 File feedback now", callback_data="m|feedback")])
    await update.effective_chat.send_message(
        "\n".join(lines)[:4096], reply_markup=InlineKeyboardMarkup(buttons) if buttons else None)
