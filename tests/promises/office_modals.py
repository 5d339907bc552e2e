"""The office's own modals, for the hostile-input run (tests/promises/hostile.py `office_run`):
each opened the way Slack opens it for someone holding the role it needs — the button on a
post, or `/ambassadors` — on a record made for it, and on a new one once a submission used
it up, so that no example meets a record already decided. With each: a sound answer for
every text input (kept there while another input is judged), and what the record holds
afterwards, to show that what was typed was kept."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select

from bot.emulators.slack import SlackView
from handlers.slack import expenses as expense_view
from handlers.slack import meeting_modals, modals, render
from handlers.slack.listeners import outcomes
from handlers.slack.meeting_post import MEETING_MOVE_OPEN, MEETING_NOTES_OPEN
from storage.models import (ExpenseClaim, Feedback, FollowUp, GrantRecommendation, Invite,
                            Meeting, Role, utcnow)
from storage.operations import expenses, feedback, meetings, people
from tests.handlers.slack.harness import Office, held_engagement, recommend_grant, refer_grant

Kept = dict[str, str | None]


@dataclass(frozen=True)
class OfficeModal:
    name: str
    callback_id: str
    role: Role
    # Opens the modal as `user` on the record of that id (the button on its post, which the
    # outbox has delivered), or by the command (no record).
    open: Callable[[Office, str, int | None], Awaitable[SlackView]]
    good: dict[str, str]
    # What the record holds for each free-text input after the modal's submission went in
    # (a date is read, not kept as typed: left out).
    kept: Callable[[Office, SlackView], Awaitable[Kept]]
    # Makes a record the modal works on (its id); `once`: a submission that went in uses it
    # up (a decided grant), so the next one is opened on a new record.
    make: Callable[[Office], Awaitable[int]] | None = None
    once: bool = True


async def _record(office: Office, model: type, view: SlackView | None = None,
                  key: str = "") -> object:
    """The record the modal was opened on (its id in the modal's metadata), else the
    newest."""
    async with office.db.transaction() as s:
        if view is not None:
            return await s.get(model, json.loads(view.private_metadata)[key])
        return await s.scalar(select(model).order_by(model.id.desc()).limit(1))


async def _modal(office: Office, user: str, start: Callable[[], Awaitable[object]]) -> SlackView:
    """Close what `user` has open, `start` (a click or a command), and wait for the modal."""
    emu = office.emu
    if emu.views(user):
        await emu.close_view(user, clear=True)
    await start()
    return await emu.wait_for(lambda: (views := emu.views(user)) and views[-1], 10)


def _press(where: Callable[[Office, str], str], action_id: str
           ) -> Callable[[Office, str, int | None], Awaitable[SlackView]]:
    """Press `action_id` on the post of the record (its buttons carry the record's id)."""
    async def open_(office: Office, user: str, record: int | None) -> SlackView:
        emu = office.emu
        post = next(m for m in reversed(emu.messages(where(office, user)))
                    if (action_id, str(record)) in ((b.action_id, b.value)
                                                    for b in emu.buttons(m)))
        return await _modal(office, user, lambda: emu.click(user, post, action_id,
                                                            value=str(record)))
    return open_


def _channel(key: str) -> Callable[[Office, str], str]:
    return lambda office, user: office.channel(key)


def _command(text: str) -> Callable[[Office, str, int | None], Awaitable[SlackView]]:
    async def open_(office: Office, user: str, record: int | None) -> SlackView:
        return await _modal(office, user, lambda: office.emu.slash_command(
            user, "/ambassadors", text))
    return open_


def _grant_step(step: str, role: Role, action_id: str, column: str, *,
                referred: bool = False) -> OfficeModal:
    async def make(office: Office) -> int:
        grant_id = await recommend_grant(office)
        if referred:
            await refer_grant(office, grant_id)
        return grant_id

    async def kept(office: Office, view: SlackView) -> Kept:
        return {"reason": getattr(await _record(office, GrantRecommendation, view, "grant_id"),
                                  column)}
    # The Commissioner decides from the post in their direct messages.
    where = (lambda office, user: user) if referred else _channel("grants")
    return OfficeModal(f"grant_{step}", modals.GRANT_REASON, role, _press(where, action_id),
                       {"reason": "Who else funds the sessions?"}, kept, make)


async def _claim(office: Office) -> int:
    async with office.db.transaction() as s:
        return (await expenses.do_claim_expense(
            s, office.scheme, kind="mileage", amount_pence=None, miles_tenths=120,
            incurred_on=utcnow().astimezone(office.scheme.tz).date(), description="To Clun",
            actor=await s.merge(office.cast.ambassador))).id


async def _kept_claim(office: Office, view: SlackView) -> Kept:
    return {"reason": (await _record(office, ExpenseClaim, view, "claim_id")).decision_reason}


def _expense_step(step: str, action_id: str) -> OfficeModal:
    return OfficeModal(f"expense_{step}", expense_view.EXPENSE_REASON, Role.OFFICER,
                       _press(_channel("engagements"), action_id),
                       {"reason": "Clun is 12 miles, not 20"}, _kept_claim, _claim)


async def _kept_invite(office: Office, view: SlackView) -> Kept:
    return {"name": (await _record(office, Invite)).name}


async def _kept_meeting(office: Office, view: SlackView) -> Kept:
    meeting = await _record(office, Meeting)
    return {"title": meeting.title, "place": meeting.place}


async def _meeting(office: Office, starts: dt.datetime) -> int:
    async with office.db.transaction() as s:
        return (await meetings.do_schedule_meeting(
            s, office.scheme, kind="quarterly", title="Quarterly ambassadors' meeting",
            place="Hindlip Park", starts_at=starts, ends_at=starts + dt.timedelta(hours=2),
            actor=await people.get_person(s, office.cast.officer.id),
            now=starts - dt.timedelta(days=14))).id


async def _held_meeting(office: Office) -> int:
    return await _meeting(office, utcnow() - dt.timedelta(days=1))


async def _coming_meeting(office: Office) -> int:
    return await _meeting(office, utcnow() + dt.timedelta(days=3))


async def _kept_notes(office: Office, view: SlackView) -> Kept:
    meeting = await _record(office, Meeting, view, "meeting_id")
    async with office.db.transaction() as s:
        actions = (await s.scalars(select(FollowUp.detail).where(
            FollowUp.meeting_id == meeting.id).order_by(FollowUp.id))).all()
    rows = {f"action_{n}": text for n, text in enumerate(actions, start=1)}
    return {"notes": meeting.notes, "decisions": meeting.decisions, **rows}


async def _feedback(office: Office) -> int:
    engagement_id = await held_engagement(office)
    async with office.db.transaction() as s:
        return (await feedback.do_file_feedback(
            s, office.scheme, engagement_id=engagement_id, attendees=25,
            summary="Residents worried about speeding",
            outcomes="A community speed watch on Sheinton Street.",
            actor=await s.merge(office.cast.ambassador))).id


async def _kept_excerpt(office: Office, view: SlackView) -> Kept:
    return {"excerpt": (await _record(office, Feedback, view, "feedback_id")).public_outcome}


async def _nothing(office: Office, view: SlackView) -> Kept:
    return {}


ACTIONS = {f"action_{n}": f"Book the hall ({n})"
           for n in range(1, meeting_modals.ACTION_ROWS + 1)}
OFFICE_MODALS: tuple[OfficeModal, ...] = (
    _grant_step("ask", Role.COMMISSIONING, render.GRANT_ASK, "info_request"),
    _grant_step("decline", Role.COMMISSIONING, render.GRANT_DECLINE, "decision_reason"),
    _grant_step("deputy", Role.DEPUTY, render.GRANT_DEPUTY, "deputy_recommendation"),
    _grant_step("reject", Role.COMMISSIONER, render.GRANT_REJECT, "decision_reason",
                referred=True),
    _expense_step("query", expense_view.EXPENSE_QUERY),
    _expense_step("reject", expense_view.EXPENSE_REJECT),
    OfficeModal("invite", modals.INVITE, Role.OFFICER, _command("invite"),
                {"name": "Priya Okonjo"}, _kept_invite),
    OfficeModal("meeting", modals.MEETING, Role.OFFICER, _command("meetings schedule"),
                {"title": "Quarterly ambassadors' meeting", "place": "Hindlip Park",
                 "starts_at": "tomorrow 7pm"}, _kept_meeting),
    OfficeModal("meeting_notes", meeting_modals.MEETING_NOTES, Role.OFFICER,
                _press(_channel("engagements"), MEETING_NOTES_OPEN),
                {"notes": "The Ludlow fete went well.", "decisions": "A rural crime evening.",
                 **ACTIONS}, _kept_notes, _held_meeting),
    # A meeting moves again and again, and an excerpt is published again: one record each.
    OfficeModal("meeting_move", meeting_modals.MEETING_MOVE, Role.OFFICER,
                _press(_channel("engagements"), MEETING_MOVE_OPEN),
                {"starts_at": "in 5 days at 10am"}, _nothing, _coming_meeting, once=False),
    OfficeModal("outcome_excerpt", outcomes.OUTCOME_EXCERPT, Role.OFFICER,
                _press(_channel("engagements"), render.OUTCOME_PUBLISH),
                {"excerpt": "Residents agreed to start a community speed watch."},
                _kept_excerpt, _feedback, once=False),
)
