"""The ambassador's forms, declared once for every app (DESIGN §4). Each submit calls the
storage operations that hold the rules; nothing here decides what is allowed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from handlers.forms.engine import Choice, Field, Form, FormContext, register
from storage.models import FollowUpNeeded, HoursEntry, Urgency
from storage.errors import InvalidInput
from storage.operations import engagements, expenses, feedback, grants, hours, media, people
from storage.parsers import format_money, format_when
from storage.scheme import Scheme

NEW_ENGAGEMENT = "new"
DURATIONS = [(30, "30 minutes"), (60, "1 hour"), (90, "1½ hours"), (120, "2 hours"),
             (180, "3 hours"), (240, "4 hours"), (360, "6 hours")]


async def _kinds(ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    return [Choice(k, k) for k in ctx.scheme.engagement_kinds]


async def _areas(ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    own = ctx.person.area.name if ctx.person.area else None
    names = sorted(ctx.scheme.areas, key=lambda a: a != own)
    return [Choice(a, a) for a in names]


async def _durations(ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    return [Choice(minutes, label) for minutes, label in DURATIONS]


def duration_label(minutes: int) -> str:
    return dict(DURATIONS).get(minutes) or f"{minutes // 60}h{minutes % 60:02d}"


async def _groups(ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    return [Choice(g, g) for g in ctx.scheme.demographic_groups]


async def _topics(ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    return [Choice(t, t) for t in ctx.scheme.topics]


async def _objectives(ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    return [Choice(o, o) for o in ctx.scheme.plan_objectives]


def _engagement_label(e: Any, tz: str) -> str:
    return f"{e.title[:40]} · {format_when(e.starts_at, tz)[:10]}"


async def _awaiting_feedback(ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    async with ctx.db.transaction() as s:
        rows = await engagements.engagements_awaiting_feedback(s, ctx.person, now=ctx.now)
    return ([Choice(e.id, _engagement_label(e, ctx.scheme.timezone)) for e in rows[:8]]
            + [Choice(NEW_ENGAGEMENT, "➕ One I didn't pre-notify")])


async def _recent(ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    async with ctx.db.transaction() as s:
        rows = await engagements.recent_engagements(s, ctx.person, now=ctx.now)
    return [Choice(e.id, _engagement_label(e, ctx.scheme.timezone)) for e in rows]


async def _follow_up(ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    return [Choice(FollowUpNeeded.NONE.value, "No follow-up needed"),
            Choice(FollowUpNeeded.OFFICE.value, "The office"),
            Choice(FollowUpNeeded.COMMISSIONER.value, "The Commissioner"),
            Choice(FollowUpNeeded.POLICE_OR_PARTNER.value, "Police or a partner")]


async def _urgency(ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    return [Choice(Urgency.ROUTINE.value, "Routine"),
            Choice(Urgency.ATTENTION.value, "Needs attention"),
            Choice(Urgency.URGENT.value, "Urgent")]


async def _expense_kinds(ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    return [Choice(k, k.capitalize()) for k in expenses.kinds(ctx.scheme)]


async def _days(ctx: FormContext, answers: dict[str, Any]) -> list[Choice]:
    today = ctx.now.astimezone(ctx.scheme.tz).date()
    return [Choice(today.isoformat(), "Today"),
            Choice((today - dt.timedelta(days=1)).isoformat(), "Yesterday")]


def _ends(answers: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(answers["starts_at"]) + dt.timedelta(
        minutes=answers["duration"])


def _location(answers: dict[str, Any]) -> dict[str, Any]:
    where = answers.get("location") or {}
    return {"latitude": where.get("latitude"), "longitude": where.get("longitude")}


# ---- pre-notify -------------------------------------------------------------------------

async def submit_prenotify(ctx: FormContext, a: dict[str, Any]) -> str:
    async with ctx.transaction() as s:
        actor = await ctx.actor(s)
        e = await engagements.do_prenotify_engagement(
            s, ctx.scheme, title=a["title"], kind=a["kind"], area=a["area"], place=a["place"],
            starts_at=dt.datetime.fromisoformat(a["starts_at"]), ends_at=_ends(a),
            expected_audience=a.get("expected_audience"), actor=actor, now=ctx.now,
            **_location(a))
    return (f"Thank you — the office knows about “{e.title}” on "
            f"{format_when(e.starts_at, ctx.scheme.timezone)}. I'll remind you to send "
            "feedback afterwards.")


TITLE = Field("title", "Title", "What is the engagement called? (e.g. {engagement_example})",
              "text", max_chars=200)
KIND = Field("kind", "Kind", "What kind of engagement is it?", "choice", choices=_kinds)
PLACE = Field("place", "Place", "Where is it? (a place name is enough, e.g. {place_example})",
              "text", max_chars=200)
DURATION = Field("duration", "Length", "How long will it last?", "choice", choices=_durations)

PRENOTIFY = register(Form(
    name="prenotify", title="Pre-notify an engagement", command="prenotify",
    intro="Let's tell the office about an engagement coming up.",
    fields=(
        TITLE, KIND,
        Field("area", "Area", "Which area is it in?", "choice", choices=_areas),
        PLACE,
        Field("starts_at", "Starts", "When does it start?", "when",
              hint="e.g. 14/03 19:00 or tomorrow 7pm"),
        DURATION,
        Field("expected_audience", "Expected audience", "Roughly how many people do you "
              "expect? (a number, or Skip)", "count", optional=True),
        Field("location", "Location", "Would you like to share the exact location? Use the "
              "paperclip → Location, or tap Skip.", "location", optional=True),
    ),
    submit=submit_prenotify))


# ---- feedback ---------------------------------------------------------------------------

def _is_new(a: dict[str, Any]) -> bool:
    return a.get("engagement") == NEW_ENGAGEMENT


def _needs_follow_up(a: dict[str, Any]) -> bool:
    return a.get("follow_up_needed") not in (None, FollowUpNeeded.NONE.value)


async def submit_feedback(ctx: FormContext, a: dict[str, Any]) -> str:
    async with ctx.transaction() as s:
        actor = await ctx.actor(s)
        engagement_id = a["engagement"]
        if _is_new(a):
            e = await engagements.do_prenotify_engagement(
                s, ctx.scheme, title=a["title"], kind=a["kind"], place=a["place"],
                starts_at=dt.datetime.fromisoformat(a["starts_at"]), ends_at=_ends(a),
                after_the_fact=True, actor=actor, now=ctx.now)
            engagement_id = e.id
        fb = await feedback.do_file_feedback(
            s, ctx.scheme, engagement_id=engagement_id, attendees=a["attendees"],
            groups=a.get("groups") or [], topics=a.get("topics") or [], summary=a["summary"],
            outcomes=a.get("outcomes"), follow_up_needed=a["follow_up_needed"],
            follow_up_detail=a.get("follow_up_detail"),
            urgency=a.get("urgency") or Urgency.ROUTINE.value,
            minutes_spent=a.get("minutes_spent"), actor=actor, now=ctx.now)
    extra = {"urgent": " It has been flagged as urgent to the office now.",
             "attention": " The office has been alerted."}.get(fb.urgency, "")
    return f"Thank you — your feedback is filed.{extra}"


FEEDBACK = register(Form(
    name="feedback", title="File feedback", command="feedback",
    intro="Let's record how an engagement went.",
    fields=(
        Field("engagement", "Engagement", "Which engagement is this about?", "choice",
              choices=_awaiting_feedback),
        Field("title", "Title", TITLE.prompt, "text", max_chars=200, show_if=_is_new),
        Field("kind", "Kind", KIND.prompt, "choice", choices=_kinds, show_if=_is_new),
        Field("place", "Place", PLACE.prompt, "text", max_chars=200, show_if=_is_new),
        Field("starts_at", "When", "When did it start?", "when", allow_past=True,
              not_before=Scheme.earliest_report, show_if=_is_new,
              hint="e.g. yesterday 7pm or 14/03 19:00"),
        Field("duration", "Length", "How long did it last?", "choice", choices=_durations,
              show_if=_is_new),
        Field("attendees", "People reached", "How many people were there?", "count"),
        Field("groups", "Groups met", "Which groups did you meet? Tick all that apply, then "
              "Done.", "multi", choices=_groups, optional=True),
        Field("topics", "Topics raised", "Which topics came up? Tick all that apply, then "
              "Done.", "multi", choices=_topics, optional=True),
        Field("summary", "Summary", "Please write a summary of the engagement.", "text",
              max_chars=2000),
        Field("outcomes", "Outcomes", "What came of it? (agreed actions, results — or Skip)",
              "text", max_chars=2000, optional=True),
        Field("follow_up_needed", "Follow-up", "Does anyone need to follow anything up?",
              "choice", choices=_follow_up),
        Field("follow_up_detail", "Follow-up detail", "What needs following up, and by whom?",
              "text", max_chars=2000, show_if=_needs_follow_up),
        Field("urgency", "Urgency", "How urgent is it?", "choice", choices=_urgency,
              show_if=_needs_follow_up),
        Field("minutes_spent", "Time spent", "How long did you spend on it, including travel? "
              "(e.g. 2 or 1h30, or Skip)", "hours", optional=True),
    ),
    submit=submit_feedback))


# ---- grant ------------------------------------------------------------------------------

async def submit_grant(ctx: FormContext, a: dict[str, Any]) -> str:
    async with ctx.transaction() as s:
        g = await grants.do_recommend_grant(
            s, ctx.scheme, applicant_organisation=a["applicant_organisation"],
            applicant_contact=a["applicant_contact"], project=a["project"],
            amount_pence=a["amount"], objectives=a["objectives"],
            engagement_id=a.get("engagement"), actor=await ctx.actor(s), now=ctx.now)
    return (f"Thank you — your recommendation of {format_money(g.amount_pence)} for "
            f"{g.applicant_organisation} is with the commissioning team. I'll tell you what "
            "they decide.")


GRANT = register(Form(
    name="grant", title="Recommend a grant", command="grant",
    intro="Let's recommend a community grant.",
    fields=(
        Field("applicant_organisation", "Organisation", "Which organisation or group would "
              "receive the grant?", "text", max_chars=200),
        Field("applicant_contact", "Contact", "Who is their contact, and how can the office "
              "reach them? (a name, and a phone number or e-mail address)", "text",
              max_chars=300, contact=True),
        Field("project", "Project", "What is the project, and how does it help the "
              "community?", "text", max_chars=2000),
        Field("amount", "Amount", "How much do you recommend? (up to {cap})",
              "money", cap_pence=lambda scheme: scheme.limits.grant_cap_pence),
        Field("objectives", "Plan objectives", "Which objectives of the plan does it support? "
              "Tick all that apply, then Done.", "multi", choices=_objectives),
        Field("engagement", "Found at", "Did you come across it at one of your engagements? "
              "(pick one, or Skip)", "choice", choices=_recent, optional=True),
    ),
    submit=submit_grant))


# ---- hours ------------------------------------------------------------------------------

async def submit_hours(ctx: FormContext, a: dict[str, Any]) -> str:
    today = ctx.now.astimezone(ctx.scheme.tz).date()
    async with ctx.transaction() as s:
        actor = await ctx.actor(s)
        entry = await hours.do_log_hours(s, worked_on=dt.date.fromisoformat(a["worked_on"]),
                                         minutes=a["minutes"], description=a.get("description"),
                                         actor=actor, today=today)
        month = await hours.minutes_in_month(s, actor.id, today.year, today.month)
    return (f"Logged {entry.minutes // 60}h{entry.minutes % 60:02d}. This month: "
            f"{month / 60:.1f} of your {ctx.person.monthly_hours} hours.")


HOURS = register(Form(
    name="hours", title="Log hours", command="hours",
    intro="Time given at an engagement is counted from its feedback; log other time here.",
    fields=(
        Field("worked_on", "Day", "Which day? (tap one, or type a date like 14/03)", "date",
              choices=_days),
        Field("minutes", "Time", "How long did you work? (e.g. 2, 1.5 or 1h30)", "hours"),
        Field("description", "What on", "What did you do? (or Skip)", "text", max_chars=500,
              optional=True),
    ),
    submit=submit_hours))


# ---- changing the time given with feedback (from /mine) -----------------------------------

async def submit_hours_change(ctx: FormContext, a: dict[str, Any]) -> str:
    async with ctx.transaction() as s:
        entry = await hours.do_change_hours(s, entry_id=a["entry_id"], minutes=a["minutes"],
                                            actor=await ctx.actor(s))
    return f"Thank you — that time is now {entry.minutes // 60}h{entry.minutes % 60:02d}."


HOURS_CHANGE = register(Form(
    name="change_hours", title="Change time given", command="",
    fields=(Field("minutes", "Time", "How long did you give, including travel? (e.g. 2, 1.5 "
                  "or 1h30)", "hours"),),
    submit=submit_hours_change))


async def hours_change_answers(ctx: FormContext, entry_id: int) -> dict[str, Any]:
    async with ctx.db.transaction() as s:
        entry = await s.get(HoursEntry, entry_id)
        if entry is None or entry.person_id != ctx.person.id:
            raise InvalidInput("That hours entry can't be found.")
        return {"entry_id": entry.id, "minutes": entry.minutes}


# ---- expenses ---------------------------------------------------------------------------

def _mileage(a: dict[str, Any]) -> bool:
    return a.get("kind") == "mileage"


async def _receipt(ctx: FormContext, a: dict[str, Any]) -> dict[str, Any]:
    """The receipt photo through the safe-media pipeline (stripped, resized, thumbnail), or
    nothing when none was sent. A video or a file that is not an image is refused."""
    items = a.get("receipt") or []
    if not items:
        return {}
    intake = ctx.services.get("media_intake")
    if intake is None:
        raise InvalidInput("Receipts can't be received right now; please try again later.",
                           field="receipt")
    if items[0].get("kind") == "video":
        raise InvalidInput(NOT_A_RECEIPT, field="receipt")
    made = await intake(ctx, items[0])
    if made.get("kind") != "photo":
        raise InvalidInput(NOT_A_RECEIPT, field="receipt")
    return {"receipt_file_id": items[0].get("file_id"), "receipt_path": made["safe_path"],
            "receipt_thumb_path": made.get("thumb_path")}


NOT_A_RECEIPT = "The receipt must be a photo (a picture of it); please send it as a photo."


async def submit_expenses(ctx: FormContext, a: dict[str, Any]) -> str:
    today = ctx.now.astimezone(ctx.scheme.tz).date()
    receipt = await _receipt(ctx, a)
    async with ctx.transaction() as s:
        claim = await expenses.do_claim_expense(
            s, ctx.scheme, kind=a["kind"], amount_pence=a.get("amount"),
            miles_tenths=a.get("miles"), incurred_on=dt.date.fromisoformat(a["incurred_on"]),
            description=a["description"], actor=await ctx.actor(s), today=today, **receipt)
    return (f"Thank you — your claim of {format_money(claim.amount_pence)} is with the office. "
            "I'll tell you when it's approved.")


EXPENSE_FIELDS = (
    Field("kind", "Kind", "What kind of expense?", "choice", choices=_expense_kinds),
    Field("incurred_on", "Date", "Which day? (tap one, or type a date like 14/03)", "date",
          choices=_days),
    Field("miles", "Miles", "How many miles did you drive? (e.g. 12.5)", "miles",
          show_if=_mileage),
    Field("amount", "Amount", "How much? (e.g. £12.50)", "money",
          show_if=lambda a: not _mileage(a)),
    Field("description", "What for", "What was it for? (e.g. {journey_example})", "text",
          max_chars=500),
)

EXPENSES = register(Form(
    name="expenses", title="Claim expenses", command="expenses",
    fields=(*EXPENSE_FIELDS,
            Field("receipt", "Receipt", "Please send a photo of the receipt, then tap Done.",
                  "photos", show_if=lambda a: not _mileage(a))),
    submit=submit_expenses))


# ---- correcting a queried claim (from /mine) ---------------------------------------------

async def submit_expense_correction(ctx: FormContext, a: dict[str, Any]) -> str:
    today = ctx.now.astimezone(ctx.scheme.tz).date()
    receipt = await _receipt(ctx, a)
    async with ctx.transaction() as s:
        claim = await expenses.do_correct_expense(
            s, ctx.scheme, claim_id=a["claim_id"], kind=a["kind"],
            amount_pence=a.get("amount"), miles_tenths=a.get("miles"),
            incurred_on=dt.date.fromisoformat(a["incurred_on"]), description=a["description"],
            actor=await ctx.actor(s), today=today, **receipt)
    return (f"Thank you — your corrected claim of {format_money(claim.amount_pence)} is with "
            "the office again.")


EXPENSE_CORRECTION = register(Form(
    name="correct_expense", title="Correct a claim", command="",
    fields=(*EXPENSE_FIELDS,
            Field("receipt", "New receipt", "Send a new photo of the receipt and tap Done, or "
                  "Skip to keep the one you sent.", "photos", optional=True,
                  show_if=lambda a: not _mileage(a))),
    submit=submit_expense_correction))


async def expense_correction_answers(ctx: FormContext, claim_id: int) -> dict[str, Any]:
    """A queried claim's values as the correction form's answers."""
    async with ctx.db.transaction() as s:
        claim = await expenses.get_claim(s, claim_id)
        if claim.person_id != ctx.person.id:
            raise InvalidInput("That claim belongs to someone else.")
        if claim.status != "queried":
            raise InvalidInput(f"That claim is {expenses.STATUS_WORDS[expenses.E(claim.status)]}"
                               ", so it can't be changed now.")
        return {"claim_id": claim.id, "kind": claim.kind,
                "incurred_on": claim.incurred_on.isoformat(), "miles": claim.miles_tenths,
                "amount": None if claim.kind == "mileage" else claim.amount_pence,
                "description": claim.description}


# ---- away -------------------------------------------------------------------------------

async def submit_away(ctx: FormContext, a: dict[str, Any]) -> str:
    today = ctx.now.astimezone(ctx.scheme.tz).date()
    back = dt.date.fromisoformat(a["until"])
    async with ctx.transaction() as s:
        await people.do_set_away(s, until=back, actor=await ctx.actor(s), today=today)
    return (f"Enjoy your time away. I won't send reminders until {back:%A %d %B}. "
            "Send /away again to change it.")


AWAY = register(Form(
    name="away", title="Away", command="away",
    fields=(Field("until", "Back on", "When are you back? (e.g. 14/03)", "date"),),
    submit=submit_away))


# ---- photos and video -------------------------------------------------------------------

async def submit_photos(ctx: FormContext, a: dict[str, Any]) -> str:
    """Make each photo safe (off the event loop), then record them all in one transaction.

    A file that can't be used is named with its reason; the others are still kept.
    """
    intake = ctx.services.get("media_intake")
    if intake is None:
        raise InvalidInput("Photos can't be received right now; please try again later.")
    prepared, refused = [], []
    for number, item in enumerate(a["media"], start=1):
        try:
            prepared.append(await intake(ctx, item))
        except InvalidInput as refusal:
            refused.append(f"#{number}: {refusal.sentence}")
    if not prepared:
        raise InvalidInput("None of those could be used. " + " ".join(refused))
    async with ctx.transaction() as s:
        report = await media.do_record_media_items(
            s, ctx.scheme, engagement_id=a["engagement"], items=prepared,
            consent_given=a["consent"], children_present=a["children"],
            caption=a.get("caption"), actor=await ctx.actor(s))
    message = report.sentence()  # what became of each: sent, answers updated, already sent
    if refused:
        message += " Not used: " + " ".join(refused)
    return message


NONE_STARTED = ("None of your engagements has started yet, so there's nothing to send photos "
                "of. Tap Cancel, and send them once it has begun.")


PHOTOS = register(Form(
    name="photos", title="Send photos or video", command="photos",
    fields=(
        Field("engagement", "Engagement", "Which engagement are they from?", "choice",
              choices=_recent, nothing_yet=NONE_STARTED),
        Field("media", "Photos or video", "Send the photos or video now (one, several or an "
              "album). Sending them as a file is fine too. Tap Done when they're all sent.",
              "photos"),
        Field("consent", "Consent", "Did everyone shown agree to be photographed, and to the "
              "Commissioner's office using the photos?", "yesno"),
        Field("children", "Children", "Are any children (under 18) in them?", "yesno"),
        Field("caption", "Caption", "Anything the office should know about them? (or Skip)",
              "text", max_chars=500, optional=True),
    ),
    submit=submit_photos))


# ---- correcting a pre-notified engagement (from /mine) ----------------------------------

async def submit_correction(ctx: FormContext, a: dict[str, Any]) -> str:
    starts = dt.datetime.fromisoformat(a["starts_at"])
    async with ctx.transaction() as s:
        e = await engagements.do_edit_engagement(
            s, ctx.scheme, engagement_id=a["engagement_id"],
            changes={"title": a["title"], "kind": a["kind"], "area": a["area"],
                     "place": a["place"], "starts_at": starts, "ends_at": _ends(a),
                     "expected_audience": a.get("expected_audience")},
            actor=await ctx.actor(s), now=ctx.now)
    return f"Thank you — “{e.title}” is updated and the office has been told."


CORRECTION = register(Form(
    name="correct_engagement", title="Correct an engagement", command="",
    fields=tuple(f for f in PRENOTIFY.fields if f.name != "location"),
    submit=submit_correction))


async def correction_answers(ctx: FormContext, engagement_id: int) -> dict[str, Any]:
    """Today's values of the ambassador's own planned engagement, as the form's answers."""
    async with ctx.db.transaction() as s:
        e = await engagements.get_own_engagement(s, engagement_id, await ctx.actor(s))
        if e.status != "planned":
            raise InvalidInput(f"That engagement is already {e.status}, so it can't be "
                               "changed any more.")
        minutes = int((e.ends_at - e.starts_at).total_seconds() // 60)
        return {"engagement_id": e.id, "title": e.title, "kind": e.kind, "area": e.area.name,
                "place": e.place, "starts_at": e.starts_at.isoformat(), "duration": minutes,
                "expected_audience": e.expected_audience}
