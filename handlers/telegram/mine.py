"""/mine: the ambassador's own engagements, feedback due, grants, hours and expense claims,
with buttons to correct a queried claim or the time given with feedback."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.telegram.context import Ctx
from storage.errors import Refused
from storage.models import Person
from storage.operations.grants import STATUS_WORDS, GrantStatus
from storage.operations.meeting_notes import open_actions
from storage.operations.overview import my_records
from storage.operations.people import get_person
from storage.operations import expenses, hours
from storage.parsers import format_date, format_hours, format_money, format_when


async def show_mine(update: Update, context: Ctx, person: Person) -> None:
    """Send one message summarising the person's records, with a button for feedback due."""
    services = context.services
    tz = services.scheme.timezone
    async with services.db.transaction() as s:
        me = await get_person(s, person.id)
        mine = await my_records(s, me, now=services.clock(), tz=tz)
        claims = await expenses.my_claims(s, me)
        recent = await hours.recent_hours(s, me, limit=3)
        actions = await open_actions(s, me.id)
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
    if actions:
        lines.append("\nYour actions from meetings:")
        lines += [f"• {a.text} — due "
                  f"{format_date(a.due_at.astimezone(services.scheme.tz).date())} "
                  f"({a.meeting_title})" for a in actions]
    lines.append("\nGrant recommendations:")
    lines += [f"• {format_money(g.amount_pence)} to {g.applicant_organisation}: "
              f"{STATUS_WORDS[GrantStatus(g.status)]}" for g in mine.grants] or ["• none yet"]
    lines.append(f"\nHours this month: {mine.minutes_this_month / 60:.1f} of "
                 f"{mine.monthly_hours}")
    lines += [f"• {format_date(h.worked_on)}: {format_hours(h.minutes)}"
              f"{f' — {h.description[:40]}' if h.description else ''}" for h in recent]
    lines.append("\nExpense claims:")
    lines += [f"• {format_money(c.amount_pence)} {c.kind}, {format_date(c.incurred_on)}: "
              f"{expenses.STATUS_WORDS[expenses.E(c.status)]}"
              + (f" — “{c.decision_reason}”" if c.status in ("queried", "rejected")
                 and c.decision_reason else "") for c in claims] or ["• none"]
    buttons = [[InlineKeyboardButton(f"✏️ Correct: {e.title[:40]}",
                                     callback_data=f"m|correct|{e.id}")]
               for e in mine.upcoming[:5]]
    buttons += [[InlineKeyboardButton(f"✏️ Correct claim: {format_money(c.amount_pence)} "
                                      f"{c.kind}", callback_data=f"m|correct|claim:{c.id}")]
                for c in claims if c.status == "queried"][:3]
    buttons += [[InlineKeyboardButton(f"⏱ Change time: {format_date(h.worked_on)} "
                                      f"({format_hours(h.minutes)})",
                                      callback_data=f"m|correct|hours:{h.id}")]
                for h in recent if h.engagement_id][:3]
    if mine.feedback_due:
        buttons.append([InlineKeyboardButton("📝 File feedback now", callback_data="m|feedback")])
    await update.effective_chat.send_message(
        "\n".join(lines)[:4096], reply_markup=InlineKeyboardMarkup(buttons) if buttons else None)


async def open_correction(update: Update, context: Ctx, person: Person, what: str) -> None:
    """"claim:<id>" opens a queried claim's answers at the summary, ready for Edit;
    "hours:<id>" asks for the corrected time of an hours entry."""
    from handlers.forms import engine, flows
    from handlers.telegram import conversation
    kind, _, raw = what.partition(":")
    ctx = conversation.form_context(context, person, update)
    try:
        if kind == "claim":
            form = engine.form_named("correct_expense")
            answers = await flows.expense_correction_answers(ctx, int(raw))
        elif kind == "hours":
            form = engine.form_named("change_hours")
            answers = await flows.hours_change_answers(ctx, int(raw))
        else:
            raise ValueError(what)
    except (ValueError, Refused) as problem:
        await update.effective_chat.send_message(
            getattr(problem, "sentence", "That record can't be found."))
        return
    state = engine.new_state(form)
    state.answers = answers
    state.step = engine.SUMMARY if kind == "claim" else form.fields[0].name
    if kind == "claim":
        state.labels = {"kind": [[answers["kind"], answers["kind"].capitalize()]]}
    await conversation.save(ctx, state, activate=True)
    await conversation.ask(update.effective_chat, form, state, ctx)
