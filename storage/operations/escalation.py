"""Urgent items in front of people, not only in a channel (issue 19).

An urgent item that needs the Commissioner goes to the Commissioner and the deputy directly,
in the same transaction as the report. An urgent item nobody has acknowledged within the
scheme's office hours (`escalation.acknowledge_within_office_hours`) goes to the first step of
the scheme's chain; still unacknowledged after as long again, to the next; and so on. Each
step is sent once: a ScheduleMark per item and step, claimed with INSERT … ON CONFLICT DO
NOTHING, so a tick every minute, two schedulers, or a catch-up after downtime cannot send it
twice. Time outside office hours does not count (storage/office_calendar.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit
from storage.models import (FollowUp, FollowUpNeeded, FollowUpStatus, Outbox, Person, Role,
                            ScheduleMark, Urgency, utcnow)
from storage.office_calendar import add_office_time
from storage.operations.alerts import ALERT_STEP, alert_payload, headline, queue_alert_step
from storage.operations.people import active_people_with_role
from storage.operations.reminders import claim_mark
from storage.outbox import SLACK
from storage.parsers import format_when
from storage.scheme import ChainStep, Scheme

ESCALATED_EVENT = "follow_up_escalated"
SCHEDULER = "scheduler"
# Open urgent items older than this are the digest's business, not a page to someone's phone
# (and a first deploy does not page anyone about last year's items).
LOOK_BACK = dt.timedelta(days=21)


def _mark(follow_up_id: int, step: int) -> str:
    return f"escalation:{follow_up_id}:{step}"


def _names(people: Iterable[Person]) -> str:
    names = [p.name for p in people]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _direct(session: AsyncSession, person: Person, text: str, data: dict) -> Outbox | None:
    """To the person's Slack DM (where the office works), else wherever they are reached."""
    if person.slack_id and person.active:
        row = Outbox(transport=SLACK, destination=person.slack_id, event=ESCALATED_EVENT,
                     payload={"text": text, **data})
        outbox.queue_row(session, row)
        return row
    return outbox.to_person(session, person, ESCALATED_EVENT, text, data=data)


async def _claim(session: AsyncSession, key: str, now: dt.datetime) -> bool:
    return await claim_mark(session, key, now=now)


async def _step_people(session: AsyncSession, step: ChainStep) -> list[Person]:
    """Who a chain step reaches: the person named, if they still hold the role; else (or for a
    step naming only a role) everyone active holding it, so a step never reaches nobody."""
    holders = await active_people_with_role(session, step.role)
    if step.person:
        named = [p for p in holders if p.name.casefold() == step.person.casefold()]
        if named:
            return named
    return holders


def needs_the_commissioner_at_once(follow_up: FollowUp) -> bool:
    return (follow_up.urgency == Urgency.URGENT.value
            and follow_up.needed_by == FollowUpNeeded.COMMISSIONER.value)


async def send_at_once(session: AsyncSession, scheme: Scheme, follow_up: FollowUp, *,
                       now: dt.datetime | None = None) -> list[str]:
    """An urgent item needing the Commissioner: to each Commissioner and deputy directly, in
    the transaction that raised it. Returns the step for the alert ("sent directly to …"),
    empty when it is not such an item or was already sent."""
    now = now or utcnow()
    if not needs_the_commissioner_at_once(follow_up):
        return []
    if not await _claim(session, _mark(follow_up.id, 0), now):
        return []
    people = [*await active_people_with_role(session, Role.COMMISSIONER),
              *await active_people_with_role(session, Role.DEPUTY)]
    people = list({p.id: p for p in people}.values())
    if not people:
        return []
    data = await alert_payload(session, follow_up)
    title = scheme.commissioner_title
    for person in people:
        _direct(session, person, f"Urgent — needs the {title}: {headline(data)}",
                {**data, "reason": f"Needs the {title}: sent to you directly."})
    step = (f"sent directly to {_names(people)} at {format_when(now, scheme.timezone)}")
    audit(session, None, "escalate_follow_up", target=follow_up,
          after={"step": 0, "to": [p.id for p in people], ALERT_STEP: step},
          actor_label=SCHEDULER)
    return [step]


def step_due(scheme: Scheme, follow_up: FollowUp, step: int) -> dt.datetime:
    """When chain step `step` (1-based) falls due: that many times the scheme's office hours
    after the item was raised, counting office time only."""
    within = dt.timedelta(hours=scheme.escalation.acknowledge_within_office_hours)
    return add_office_time(scheme, follow_up.created_at, within * step)


async def do_escalate_unacknowledged(session: AsyncSession, scheme: Scheme, *,
                                     now: dt.datetime | None = None) -> list[Outbox]:
    """Each open urgent item past a chain step's time goes to that step's people, once."""
    now = now or utcnow()
    chain = scheme.escalation.chain
    items = (await session.scalars(
        select(FollowUp).where(FollowUp.status == FollowUpStatus.OPEN.value,
                               FollowUp.urgency == Urgency.URGENT.value,
                               FollowUp.created_at >= now - LOOK_BACK)
        .order_by(FollowUp.id))).all()
    if not items:
        return []
    done = set((await session.scalars(select(ScheduleMark.key).where(ScheduleMark.key.in_(
        [_mark(item.id, n) for item in items for n in range(1, len(chain) + 1)])))).all())
    hours = scheme.escalation.acknowledge_within_office_hours
    sent: list[Outbox] = []
    for item in items:
        for number, step in enumerate(chain, start=1):
            if _mark(item.id, number) in done:
                continue
            if step_due(scheme, item, number) > now:
                break
            if not await _claim(session, _mark(item.id, number), now):
                continue
            people = await _step_people(session, step)
            data = await alert_payload(session, item)
            waited = f"{hours * number:g} office hours"
            for person in people:
                row = _direct(session, person,
                              f"Not acknowledged after {waited}: {headline(data)}",
                              {**data, "reason": f"Nobody has acknowledged this after "
                                                 f"{waited}: it is escalated to you."})
                if row is not None:
                    sent.append(row)
            who = _names(people) if people else f"{step.label} (nobody holds the role)"
            line = (f"not acknowledged after {waited}: escalated to {who} at "
                    f"{format_when(now, scheme.timezone)}")
            audit(session, None, "escalate_follow_up", target=item,
                  after={"step": number, "to": [p.id for p in people], ALERT_STEP: line},
                  actor_label=SCHEDULER)
            await queue_alert_step(session, scheme, item, line, by=SCHEDULER,
                                   at=now.isoformat())
    return sent
