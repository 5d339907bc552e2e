"""App Home: the scheme at a glance for the office, and for an ambassador their own records
with buttons that open their forms. Built from storage's read functions; published on
app_home_opened and after an ambassador files a form."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from handlers.slack.blocks import (PHOTOS_NOTE, actions, button, context, divider, esc,
                                   header, sections)
from handlers.slack.context import INACTIVE, STRANGER, SlackServices
from handlers.slack.expenses import home_blocks as expense_blocks
from handlers.slack.render import GRANT_STATUS_WORDS, form_buttons
from storage.models import Person
from storage.operations import expenses, meetings, office
from storage.operations.overview import my_records
from storage.operations.oversight import TeamOverview, team_overview
from storage.parsers import format_date, format_hours, format_money, format_when
from storage.permissions import Action, allowed

MAX_HOME_BLOCKS = 100
HOME_INVITE, HOME_MEETING, HOME_REFRESH = "home_invite", "home_meeting", "home_refresh"


def _home(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    if len(blocks) > MAX_HOME_BLOCKS:
        blocks = blocks[:MAX_HOME_BLOCKS - 1] + [context("_(more in the export)_")]
    return {"type": "home", "blocks": blocks}


def sentence_home(sentence: str) -> dict[str, Any]:
    return _home(sections(esc(sentence)))


async def home_view(svc: SlackServices, person: Person | None) -> dict[str, Any]:
    """The right App Home for this person (a stranger gets one sentence and nothing else)."""
    if person is None:
        return sentence_home(STRANGER)
    if not person.active:
        return sentence_home(INACTIVE)
    if allowed(person, Action.OWN_RECORDS):
        return await ambassador_home(svc, person)
    if allowed(person, Action.SEE_ALL):
        return await office_home(svc, person)
    if allowed(person, Action.SEE_GRANTS):
        return await grants_home(svc, person)
    return sentence_home("There is nothing for your role to see here yet.")


def _lines(items: list[str], empty: str) -> str:
    return "\n".join(items) if items else empty


async def ambassador_home(svc: SlackServices, person: Person) -> dict[str, Any]:
    tz = svc.scheme.timezone
    async with svc.db.transaction() as s:
        me = await s.merge(person)
        mine = await my_records(s, me, now=svc.now(), tz=tz)
        claims = await expenses.my_claims(s, me, limit=5)
    blocks = [header("Your Community Ambassador records"),
              *sections("What would you like to do?"), form_buttons(),
              context(PHOTOS_NOTE), divider(),
              *sections("*Coming up*\n" + _lines(
                  [f"• {format_when(e.starts_at, tz)} — {esc(e.title)}" for e in mine.upcoming],
                  "• nothing pre-notified")),
              *sections("*Feedback due*\n" + _lines(
                  [f"• {esc(e.title)} ({format_when(e.starts_at, tz)})"
                   for e in mine.feedback_due], "• none — thank you!"))]
    if mine.recent_feedback:
        blocks += sections("*Recent feedback*\n" + _lines(
            [f"• {esc(e.title)}: {f.attendees:,} people, {esc(f.urgency)}"
             for e, f in mine.recent_feedback], ""))
    blocks += sections("*Grant recommendations*\n" + _lines(
        [f"• {format_money(g.amount_pence)} to {esc(g.applicant_organisation)}: "
         f"{GRANT_STATUS_WORDS.get(g.status, esc(g.status)).lower()}" for g in mine.grants],
        "• none yet"))
    blocks += sections(f"*Hours this month:* {format_hours(mine.minutes_this_month)} of "
                       f"{mine.monthly_hours}h")
    blocks += sections("*Expense claims*\n" + _lines(
        [f"• {format_money(c.amount_pence)} {esc(c.kind)}, {format_date(c.incurred_on)}: "
         f"{expenses.STATUS_WORDS[expenses.E(c.status)]}"
         + (f" — {esc(c.decision_reason)}" if c.status in ("queried", "rejected")
            and c.decision_reason else "") for c in claims], "• none"))
    return _home(blocks)


def _office_buttons(person: Person) -> list[dict[str, Any]]:
    elements = [button("Refresh", HOME_REFRESH, "refresh")]
    if allowed(person, Action.INVITE):
        elements.insert(0, button("Invite someone", HOME_INVITE, "invite"))
    if allowed(person, Action.MANAGE_MEETINGS):
        elements.insert(1, button("Schedule a meeting", HOME_MEETING, "meeting"))
    return [actions("home_actions", elements)]


async def _pipeline_blocks(s: Any, svc: SlackServices) -> list[dict[str, Any]]:
    pipeline = await office.grant_pipeline(
        s, svc.scheme, on=svc.now().astimezone(svc.scheme.tz).date())
    lines = [f"• {GRANT_STATUS_WORDS.get(status, status)}: {count} "
             f"({format_money(pence)})" for status, count, pence in pipeline.by_status if count]
    waiting = [f"• #{g.id} {format_money(g.amount_pence)} to {esc(g.applicant_organisation)} "
               f"({esc(g.area.name)}) — {GRANT_STATUS_WORDS.get(g.status, g.status).lower()}"
               for g in pipeline.waiting]
    return [*sections(f"*Grant pipeline* — {pipeline.fund_period} fund remaining "
                      f"{format_money(pipeline.fund_remaining_pence)} of "
                      f"{format_money(pipeline.fund_size_pence)}\n"
                      + _lines(lines, "• no grants recommended yet")),
            *(sections("*Waiting for a decision*\n" + "\n".join(waiting)) if waiting else [])]


def team_blocks(team: TeamOverview, tz: str) -> list[dict[str, Any]]:
    """Each ambassador's work, one line each (App Home and `/ambassadors team`)."""
    month = f"{team.month:%B}"
    lines = []
    for a in team.ambassadors:
        last = (format_date(a.last_engagement.astimezone(ZoneInfo(tz)).date())
                if a.last_engagement else "none yet")
        hours = format_hours(a.minutes_this_month) if a.minutes_this_month else "0h"
        lines.append(
            f"• *{esc(a.name)}*{f' ({esc(a.area)})' if a.area else ''} — last engagement "
            f"{last} · feedback overdue: {a.feedback_overdue} · {hours} of "
            f"{a.commitment_hours}h in {month} · open follow-ups: {a.open_follow_ups}, "
            f"actions: {a.open_actions} · catch-up {team.week}: "
            f"{'answered' if a.caught_up else 'not answered' if a.asked else 'not asked yet'}")
    return sections(f"*Ambassadors* — {month}\n" + _lines(lines, "• no active ambassadors"))


async def office_home(svc: SlackServices, person: Person) -> dict[str, Any]:
    tz, now = svc.scheme.timezone, svc.now()
    start = office.week_start(now, svc.scheme)
    async with svc.db.transaction() as s:
        total, week = await office.engagements_between(s, start, start + dt.timedelta(days=7),
                                                       limit=10)
        follow_ups = await office.open_follow_ups(s, now)
        pipeline = await _pipeline_blocks(s, svc)
        overdue_total, overdue = await office.feedback_overdue(s, svc.scheme, now)
        undecided, to_pay = await expenses.claims_waiting(s)
        coming = await meetings.coming_up_with_replies(s, now)
        team = (await team_overview(s, svc.scheme, actor=await s.merge(person), now=now)
                if allowed(person, Action.OVERSEE) else None)
    ages = " · ".join(f"{label}: {count}" for label, count in follow_ups.by_age)
    oldest = [f"• {esc(f.urgency)} — {esc(f.title)}: {esc(f.detail[:120])} "
              f"(since {format_when(f.created_at, tz)}"
              f"{', with ' + esc(f.owner) if f.owner else ''})" for f in follow_ups.oldest]
    blocks = [header("Community Ambassadors — at a glance"),
              context(f"As of {format_when(now, tz)}"), *_office_buttons(person), divider(),
              *(team_blocks(team, tz) + [divider()] if team is not None else []),
              *sections(f"*This week's engagements* ({total})\n" + _lines(
                  [f"• {format_when(e.starts_at, tz)} — {esc(e.title)} ({esc(e.area)}, "
                   f"{esc(e.ambassador)})" for e in week], "• none this week")),
              *sections(f"*Open follow-ups* ({follow_ups.total}, {follow_ups.overdue} overdue)"
                        f"\nBy age: {ages}\n" + _lines(oldest, "")),
              *pipeline,
              *sections(f"*Feedback overdue* ({overdue_total})\n" + _lines(
                  [f"• {esc(e.title)} ({esc(e.area)}, {esc(e.ambassador)}, "
                   f"{format_when(e.starts_at, tz)})" for e in overdue], "• none")),
              *expense_blocks(undecided, to_pay, now,
                              allowed(person, Action.APPROVE_EXPENSES)),
              *_meeting_blocks(coming, tz)]
    return _home(blocks)


def _meeting_blocks(coming: list[tuple[Any, list[meetings.Reply]]], tz: str
                    ) -> list[dict[str, Any]]:
    """The meetings coming up, each with who replied by name."""
    lines = [f"• {format_when(m.starts_at, tz)} — {esc(m.title)} at {esc(m.place)}\n"
             f"      {esc(meetings.replies_line(found))}" for m, found in coming]
    return sections("*Meetings coming up*\n" + _lines(lines, "• none scheduled"))


async def grants_home(svc: SlackServices, person: Person) -> dict[str, Any]:
    async with svc.db.transaction() as s:
        pipeline = await _pipeline_blocks(s, svc)
    return _home([header("Community Ambassador grants"),
                  context(f"As of {format_when(svc.now(), svc.scheme.timezone)}"),
                  actions("home_actions", [button("Refresh", HOME_REFRESH, "refresh")]),
                  *pipeline])
