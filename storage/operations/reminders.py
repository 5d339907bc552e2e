"""Nudges and reminders the schedules send, and the marks that make each one go once.

Every job that speaks to people (feedback nudges, meeting reminders, the weekly catch-up
question, the monthly hours summary, overdue follow-ups) records what it sent as a
`ScheduleMark` in the same transaction as the outbox row, so a job that runs twice — after a
restart, or on two machines — sends once. Nobody away (`/away`) or deactivated is nudged;
what they missed goes the day they are back, because the hourly reminders job offers the
current week's catch-up question and month's hours summary to anyone who has not had them yet.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit
from storage.errors import InvalidInput
from storage.models import (Engagement, EngagementStatus, Feedback, FollowUp, FollowUpStatus,
                            Meeting, MeetingKind, Outbox, Person, Role,
                            ScheduleMark, utcnow)
from storage.operations import catch_ups
from storage.operations.hours import minutes_in_month
from storage.operations.meetings import RSVP_ANSWERS
from storage.operations.people import active_people_with_role, is_reachable
from storage.parsers import format_date, format_hours, format_when
from storage.permissions import Action, require
from storage.operations.follow_ups import follow_up_title
from storage.scheme import Scheme

SCHEDULER = "scheduler"          # the actor label on audit lines written by schedules
FEEDBACK_LOOKBACK_DAYS = 56      # older engagements are listed in the digest, not nudged
NUDGE_AGAIN_AFTER = dt.timedelta(days=3)
OVERDUE_LIST_LIMIT = 15


# ---- marks ---------------------------------------------------------------------------------


async def claim_mark(session: AsyncSession, key: str, *, now: dt.datetime | None = None) -> bool:
    """Record `key` unless it is already there; True when this call recorded it.

    INSERT … ON CONFLICT DO NOTHING on both databases, so two transactions racing for the same
    key cannot both win (the loser's insert does nothing and it sends nothing).
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await session.execute(
        insert(ScheduleMark).values(key=key[:160], done_at=now or utcnow())
        .on_conflict_do_nothing(index_elements=["key"]))
    return result.rowcount == 1


async def mark_time(session: AsyncSession, key: str) -> dt.datetime | None:
    return await session.scalar(select(ScheduleMark.done_at).where(ScheduleMark.key == key))


async def drop_mark(session: AsyncSession, key: str) -> None:
    await session.execute(ScheduleMark.__table__.delete().where(ScheduleMark.key == key))


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _today(scheme: Scheme, now: dt.datetime) -> dt.date:
    return now.astimezone(scheme.tz).date()


# ---- feedback nudges -----------------------------------------------------------------------


async def do_nudge_feedback(session: AsyncSession, scheme: Scheme, *,
                            now: dt.datetime | None = None) -> list[Outbox]:
    """Nudge for feedback the scheme's feedback_due_hours after an engagement ends, and once
    more three days after that first nudge. Then it is overdue and listed in the digest.

    Not for cancelled engagements, nor ones with feedback, nor ambassadors away or
    deactivated (their nudges go when they are back, while the engagement is recent).
    """
    now = now or utcnow()
    today = _today(scheme, now)
    due = now - dt.timedelta(hours=scheme.limits.feedback_due_hours)
    rows = (await session.execute(
        select(Engagement, Person)
        .join(Person, Person.id == Engagement.ambassador_id)
        .outerjoin(Feedback, Feedback.engagement_id == Engagement.id)
        .where(Engagement.ends_at <= due,
               Engagement.starts_at >= now - dt.timedelta(days=FEEDBACK_LOOKBACK_DAYS),
               Engagement.status != EngagementStatus.CANCELLED.value,
               Engagement.feedback_nudges < 2, Feedback.id.is_(None))
        .order_by(Engagement.ends_at))).all()
    sent: list[Outbox] = []
    for engagement, person in rows:
        if not is_reachable(person, today):
            continue
        nudge = engagement.feedback_nudges + 1
        if nudge == 2:
            first = await mark_time(session, f"feedback_nudge:{engagement.id}:1")
            if first is not None and first > now - NUDGE_AGAIN_AFTER:
                continue
        if not await claim_mark(session, f"feedback_nudge:{engagement.id}:{nudge}", now=now):
            continue
        when = format_when(engagement.starts_at, scheme.timezone)
        text = (f"How did {engagement.title} ({when}) go? Please send your feedback with "
                "/feedback — it only takes a few minutes." if nudge == 1 else
                f"A reminder: the feedback for {engagement.title} ({when}) is still to come. "
                "Please send it with /feedback.")
        row = outbox.to_person(session, person, "feedback_nudge", text,
                               data={"engagement_id": engagement.id, "nudge": nudge,
                                     "title": engagement.title})
        engagement.feedback_nudges = nudge
        audit(session, None, "nudge_feedback", target=engagement, after={"nudge": nudge},
              actor_label=SCHEDULER)
        if row is not None:
            sent.append(row)
    return sent


# ---- meeting reminders ---------------------------------------------------------------------


def _lead(days: int) -> str:
    return {1: "tomorrow", 7: "next week"}.get(days, f"in {days} days")


async def do_remind_meetings(session: AsyncSession, scheme: Scheme, *,
                             now: dt.datetime | None = None) -> list[Outbox]:
    """Remind ambassadors of a quarterly meeting a week before and a day before, or as the
    scheme's `meetings.quarterly.remind_days_before` says (catch-ups: the last reminder only),
    with their answer so far and the RSVP choices for buttons.

    Someone back from being away inside the window gets the reminder that day; anyone who
    answered "no" is not reminded.
    """
    now = now or utcnow()
    today = _today(scheme, now)
    early, last = scheme.meetings.remind_days_before()
    week_before, day_before = dt.timedelta(days=early), dt.timedelta(days=last)
    meetings = (await session.scalars(
        select(Meeting).where(Meeting.cancelled_at.is_(None), Meeting.starts_at > now,
                              Meeting.starts_at <= now + week_before)
        .order_by(Meeting.starts_at))).all()
    if not meetings:
        return []
    ambassadors = [p for p in await active_people_with_role(session, Role.AMBASSADOR)
                   if is_reachable(p, today)]
    sent: list[Outbox] = []
    for meeting in meetings:
        which = "day" if meeting.starts_at - now <= day_before else "week"
        if which == "week" and meeting.kind != MeetingKind.QUARTERLY:
            continue
        answers = {r.person_id: r.answer for r in meeting.rsvps}
        counts = {a: sum(1 for v in answers.values() if v == a) for a in RSVP_ANSWERS}
        when = format_when(meeting.starts_at, scheme.timezone)
        reminded = 0
        for person in ambassadors:
            answer = answers.get(person.id)
            if answer == "no":
                continue
            if not await claim_mark(session, f"meeting:{meeting.id}:{which}:{person.id}",
                                    now=now):
                continue
            if which == "day":  # no late week-before reminder after the day-before one
                await claim_mark(session, f"meeting:{meeting.id}:week:{person.id}", now=now)
            lead = _lead(last if which == "day" else early)
            ask = (f"You said you'd come ({answer}); the buttons below change it." if answer
                   else "Will you come? Please answer with the buttons below.")
            row = outbox.to_person(
                session, person, "meeting_reminder",
                f"Reminder: {meeting.title} is {lead} — {when} at {meeting.place}. {ask}",
                data={"meeting_id": meeting.id, "which": which, "rsvp": list(RSVP_ANSWERS),
                      "answer": answer, "answers": counts, "title": meeting.title,
                      "starts_at": meeting.starts_at.isoformat(), "place": meeting.place})
            if row is not None:
                sent.append(row)
                reminded += 1
        if reminded:
            column = "reminded_day_at" if which == "day" else "reminded_week_at"
            if getattr(meeting, column) is None:
                setattr(meeting, column, now)
            audit(session, None, f"remind_meeting_{which}", target=meeting,
                  after={"reminded": reminded}, actor_label=SCHEDULER)
    return sent


# ---- rounds: the weekly catch-up question and the monthly hours summary ---------------------


async def _round_people(session: AsyncSession, scheme: Scheme, now: dt.datetime) -> list[Person]:
    today = _today(scheme, now)
    return [p for p in await active_people_with_role(session, Role.AMBASSADOR)
            if is_reachable(p, today)]


async def do_ask_catch_up(session: AsyncSession, scheme: Scheme, *,
                          now: dt.datetime | None = None,
                          only_if_started: bool = False) -> list[Outbox]:
    """Ask each ambassador this week's catch-up question ("anything the office should know?").

    The weekly job starts the round; `only_if_started` (the hourly job) asks only those who
    missed it — back from being away, or newly joined — and only once the round has begun.
    """
    now = now or utcnow()
    week = iso_week(_today(scheme, now))
    round_key = f"catch_up_round:{week}"
    if only_if_started:
        if await mark_time(session, round_key) is None:
            return []
    else:
        await claim_mark(session, round_key, now=now)
    sent: list[Outbox] = []
    for person in await _round_people(session, scheme, now):
        if not await claim_mark(session, catch_ups.asked_mark(week, person.id), now=now):
            continue
        row = outbox.to_person(
            session, person, "catch_up_question",
            f"Weekly catch-up: is there anything the office should know? Anything on your "
            f"mind from {person.area.name if person.area else 'your area'} this week — "
            "just reply here.",
            data={"week": week, "person_id": person.id})
        audit(session, None, "ask_catch_up", target=person, after={"week": week},
              actor_label=SCHEDULER)
        if row is not None:
            sent.append(row)
    return sent


CATCH_UP_OPEN_FOR = dt.timedelta(days=7)


async def open_catch_up(session: AsyncSession, scheme: Scheme, person: Person, *,
                        now: dt.datetime | None = None) -> str | None:
    """The week of a catch-up question this person was asked in the last seven days and has
    not answered yet (None when there is none): what they type next is their answer."""
    now = now or utcnow()
    weeks = sorted({iso_week(_today(scheme, now)),
                    iso_week(_today(scheme, now - CATCH_UP_OPEN_FOR))}, reverse=True)
    keys = [f"catch_up{kind}:{week}:{person.id}" for week in weeks for kind in ("", "_answer")]
    marks = dict((await session.execute(
        select(ScheduleMark.key, ScheduleMark.done_at).where(ScheduleMark.key.in_(keys)))).all())
    for week in weeks:
        asked = marks.get(catch_ups.asked_mark(week, person.id))
        if asked is None or f"catch_up_answer:{week}:{person.id}" in marks:
            continue
        if _aware(asked) > now - CATCH_UP_OPEN_FOR:
            return week
    return None


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


async def do_answer_open_catch_up(session: AsyncSession, scheme: Scheme, *, text: str,
                                  actor: Person, now: dt.datetime | None = None,
                                  replying: bool = False) -> Outbox | None:
    """A message from an ambassador with no form in progress: their answer to the catch-up
    question when one is open (or when `replying` to it), else None and nothing changes."""
    now = now or utcnow()
    week = await open_catch_up(session, scheme, actor, now=now)
    if week is None and not replying:
        return None
    return await do_answer_catch_up(session, scheme, text=text, actor=actor, now=now, week=week)


async def do_answer_catch_up(session: AsyncSession, scheme: Scheme, *, text: str,
                             actor: Person, now: dt.datetime | None = None,
                             week: str | None = None) -> Outbox:
    """An ambassador's answer to the catch-up question is kept, and goes to the engagements
    channel."""
    require(actor, Action.OWN_RECORDS, target_type="people", target_id=actor.id)
    now = now or utcnow()
    answer = (text or "").strip()
    if not answer:
        raise InvalidInput("Please write your answer (or /cancel).", field="answer")
    limit = scheme.limits.max_text_chars
    if len(answer) > limit:
        raise InvalidInput(f"Your answer can be up to {limit:,} characters; yours has "
                           f"{len(answer):,}. Please shorten it.", field="answer")
    week = week or iso_week(_today(scheme, now))
    await claim_mark(session, f"catch_up_answer:{week}:{actor.id}", now=now)
    # Kept as a record (the digest and the deputy read it) and posted with its button.
    kept = await catch_ups.keep_answer(session, scheme, actor, week=week, answer=answer,
                                       now=now)
    audit(session, actor, "answer_catch_up", target=actor,
          after={"week": week, "catch_up_id": kept.id})
    return await session.scalar(select(Outbox).where(
        Outbox.ref == catch_ups.post_ref(kept.id)))


def _previous_month(today: dt.date) -> tuple[int, int]:
    first = today.replace(day=1) - dt.timedelta(days=1)
    return first.year, first.month


async def do_send_hours_summaries(session: AsyncSession, scheme: Scheme, *,
                                  now: dt.datetime | None = None,
                                  only_if_started: bool = False) -> list[Outbox]:
    """Tell each ambassador last month's hours against their commitment (once a month)."""
    now = now or utcnow()
    year, month = _previous_month(_today(scheme, now))
    period = f"{year}-{month:02d}"
    round_key = f"hours_round:{period}"
    if only_if_started:
        if await mark_time(session, round_key) is None:
            return []
    else:
        await claim_mark(session, round_key, now=now)
    month_name = dt.date(year, month, 1).strftime("%B %Y")
    sent: list[Outbox] = []
    for person in await _round_people(session, scheme, now):
        if not await claim_mark(session, f"hours_summary:{period}:{person.id}", now=now):
            continue
        minutes = await minutes_in_month(session, person.id, year, month)
        commitment = person.monthly_hours * 60
        logged = format_hours(minutes) if minutes else "no hours"
        if commitment and minutes >= commitment:
            verdict = "— that meets your commitment, thank you."
        elif commitment:
            verdict = (f"of your {format_hours(commitment)} commitment "
                       f"({format_hours(commitment - minutes)} short). If hours are missing, "
                       "log them with /hours.")
        else:
            verdict = "."
        row = outbox.to_person(
            session, person, "hours_summary", f"In {month_name} you logged {logged} {verdict}",
            data={"month": period, "minutes": minutes, "commitment_minutes": commitment})
        audit(session, None, "send_hours_summary", target=person,
              after={"month": period, "minutes": minutes}, actor_label=SCHEDULER)
        if row is not None:
            sent.append(row)
    return sent


# ---- overdue follow-ups --------------------------------------------------------------------


async def do_alert_overdue_follow_ups(session: AsyncSession, scheme: Scheme, *,
                                      now: dt.datetime | None = None) -> Outbox | None:
    """Once a day: list the follow-ups past their due time, with who holds each, in alerts."""
    now = now or utcnow()
    where = (FollowUp.status.in_([FollowUpStatus.OPEN.value, FollowUpStatus.ACKNOWLEDGED.value]),
             FollowUp.due_at < now)
    total = await session.scalar(select(func.count()).select_from(FollowUp).where(*where))
    if not total:
        return None
    if not await claim_mark(session, f"overdue_follow_ups:{_today(scheme, now)}", now=now):
        return None
    rows = (await session.execute(
        select(FollowUp, follow_up_title(), Person.name)
        .outerjoin(Engagement, Engagement.id == FollowUp.engagement_id)
        .outerjoin(Meeting, Meeting.id == FollowUp.meeting_id)
        .outerjoin(Person, Person.id == FollowUp.owner_id)
        .where(*where).order_by(FollowUp.due_at).limit(OVERDUE_LIST_LIMIT))).all()
    lines = [f"• {f.urgency.upper()}: {title} — {f.detail[:200]} — "
             f"{'held by ' + owner if owner else 'nobody has taken it'}, due "
             f"{format_date(f.due_at.astimezone(scheme.tz).date())}"
             for f, title, owner in rows]
    if total > len(rows):
        lines.append(f"…and {total - len(rows)} more.")
    text = (f"{total} follow-up{'s are' if total != 1 else ' is'} overdue:\n" + "\n".join(lines))
    return outbox.to_channel(session, scheme, "alerts", "follow_ups_overdue", text,
                             data={"follow_up_ids": [f.id for f, _, _ in rows],
                                   "total": total})

