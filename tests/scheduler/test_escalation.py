"""Escalation that reaches people (issue 19): an urgent item needing the Commissioner is in
the Commissioner's and the deputy's Slack DMs at the dispatcher's next pass; one nobody
acknowledges within the scheme's 4 office hours goes to the next in the chain — once per step,
however often the schedule looks, not at all out of office hours until the time is reached,
and each step once after downtime. Real slack-bolt and the real dispatcher against the Slack
emulator, the escalation job with an injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from scheduler.jobs import JobContext, escalation
from storage.models import AuditEvent, FollowUp, Outbox, Role
from storage.operations import engagements, feedback
from tests.handlers.slack.harness import Office, running_office

LONDON = ZoneInfo("Europe/London")
# A Friday afternoon: four office hours later is Monday 12:00.
FRIDAY_4PM = dt.datetime(2026, 11, 27, 16, 0, tzinfo=LONDON).astimezone(dt.UTC)


@pytest.fixture
async def office(db, scheme, tmp_path) -> AsyncIterator[Office]:
    async for running in running_office(db, scheme, chart_dir=tmp_path / "charts"):
        yield running


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=LONDON).astimezone(dt.UTC)


async def urgent(office: Office, needs: str, *, now: dt.datetime = FRIDAY_4PM) -> int:
    async with office.db.transaction() as s:
        ann = await s.merge(office.cast.ambassador)
        engagement = await engagements.do_prenotify_engagement(
            s, office.scheme, title="Clun youth club", kind="Community event",
            place="Memorial Hall, Clun", starts_at=now - dt.timedelta(hours=5),
            ends_at=now - dt.timedelta(hours=3), after_the_fact=True, actor=ann, now=now)
        await feedback.do_file_feedback(
            s, office.scheme, engagement_id=engagement.id, attendees=25,
            summary="Young people told me about knife carrying near the skate park",
            follow_up_needed=needs, follow_up_detail="Knives seen at the skate park",
            urgency="urgent", actor=ann, now=now)
        return await s.scalar(select(FollowUp.id).order_by(FollowUp.id.desc()).limit(1))


def dms(office: Office, role: Role) -> list[str]:
    uid = office.uid(role)
    if office.emu.channel(uid) is None:
        return []
    return [f"{m.text}\n{m.blocks}" for m in office.emu.messages(uid)]


async def tick(office: Office, now: dt.datetime) -> int:
    sent = await escalation(JobContext(office.db, office.scheme, now))
    await office.deliver()
    return sent


async def test_needs_the_commissioner_reaches_them_then_the_chain_once_per_step(
        office: Office) -> None:
    follow_up_id = await urgent(office, "commissioner")
    await office.deliver()

    # At once: the Commissioner's and the deputy's DMs, with the whole alert.
    for role in (Role.COMMISSIONER, Role.DEPUTY):
        [dm] = dms(office, role)
        for part in ("Knives seen at the skate park", "Clun youth club", "Ann Shropshire",
                     "Needs the Commissioner: sent to you directly", "Acknowledge"):
            assert part in dm, (role, part)
    assert dms(office, Role.OFFICER) == []
    alert = office.last(office.channel("alerts"))
    assert "sent directly to John Campion and Dee Deputy" in str(alert.blocks)

    # Friday evening, the weekend, Monday morning: no office time has passed, nothing goes.
    for now in (at(27, 16, 1), at(27, 19, 59), at(28, 12), at(29, 23), at(30, 11, 59)):
        assert await tick(office, now) == 0, now
    assert len(dms(office, Role.DEPUTY)) == 1

    # Monday 12:00, four office hours on: the first of the chain (the deputy), once — the
    # schedule looking every minute after that sends nothing more.
    assert await tick(office, at(30, 12)) == 1
    for minute in range(1, 4):
        assert await tick(office, at(30, 12, minute)) == 0
    deputy = dms(office, Role.DEPUTY)
    assert len(deputy) == 2 and "Not acknowledged after 4 office hours" in deputy[-1]
    assert "Knives seen at the skate park" in deputy[-1]
    assert len(dms(office, Role.COMMISSIONER)) == 1
    blocks = str(office.last(office.channel("alerts")).blocks)
    assert "escalated to Dee Deputy" in blocks and "Knives seen at the skate park" in blocks

    # Four office hours more: the next in the chain, the Commissioner, once.
    assert await tick(office, at(30, 15, 59)) == 0
    assert await tick(office, at(30, 16)) == 1
    assert await tick(office, at(30, 16, 1)) == 0
    commissioner = dms(office, Role.COMMISSIONER)
    assert len(commissioner) == 2 and "Not acknowledged after 8 office hours" in commissioner[-1]

    # The chain has ended: nothing more, however long it stays unacknowledged.
    assert await tick(office, at(4, 12, month=12)) == 0
    steps = [a.after["step"] for a in await office.rows(
        AuditEvent, AuditEvent.action == "escalate_follow_up")]
    assert steps == [0, 1, 2]

    # The Commissioner acknowledges from the DM: the alert keeps its detail and the step.
    await office.emu.click(office.uid(Role.COMMISSIONER),
                           office.emu.messages(office.uid(Role.COMMISSIONER))[-1],
                           "follow_up_ack")
    await office.emu.wait_for(lambda: "acknowledged by John Campion" in dms(
        office, Role.COMMISSIONER)[-1])
    await office.deliver()
    blocks = str(office.last(office.channel("alerts")).blocks)
    assert "acknowledged by John Campion" in blocks and "escalated to Dee Deputy" in blocks
    assert "Knives seen at the skate park" in blocks
    [item] = await office.rows(FollowUp, FollowUp.id == follow_up_id)
    assert item.status == "acknowledged"


async def test_acknowledged_in_time_goes_no_further_and_downtime_sends_each_step_once(
        office: Office) -> None:
    """An urgent item for the police is not sent to anyone directly at once; acknowledged
    in time it goes no further. Another one, with the scheduler down over the weekend and
    Monday, is escalated on the first look after — each step once."""
    acknowledged = await urgent(office, "police_or_partner")
    waiting = await urgent(office, "office")
    await office.deliver()
    assert dms(office, Role.COMMISSIONER) == [] and dms(office, Role.DEPUTY) == []

    from storage.operations import follow_ups
    async with office.db.transaction() as s:
        await follow_ups.do_acknowledge_follow_up(
            s, office.scheme, follow_up_id=acknowledged,
            actor=await s.merge(office.cast.officer), now=at(30, 9, 30))

    # Down until Tuesday 10:00: both steps of the waiting item are past, each sent once.
    assert await tick(office, at(1, 10, month=12)) == 2
    assert await tick(office, at(1, 10, 1, month=12)) == 0
    assert len(dms(office, Role.DEPUTY)) == 1 and len(dms(office, Role.COMMISSIONER)) == 1
    sent = await office.rows(Outbox, Outbox.event == "follow_up_escalated")
    assert sorted(r.payload["follow_up_id"] for r in sent) == [waiting, waiting]


async def test_a_chain_naming_people_reaches_them_or_else_the_role(db, scheme) -> None:
    """A step naming a person reaches that person only, while they hold the role; a step
    naming someone who no longer does reaches everyone who holds it, so no step reaches
    nobody."""
    from storage.operations.escalation import do_escalate_unacknowledged
    from storage.scheme import parse_scheme, SCHEMES_DIR
    from tests.storage.seed import Cast, person

    text = (SCHEMES_DIR / "west-mercia.yaml").read_text().split("\nescalation:")[0]
    named = parse_scheme(text + "\nescalation:\n  acknowledge_within_office_hours: 4\n"
                         "  chain: [{person: Dee Deputy, role: deputy},\n"
                         "          {person: Dee Deputy, role: commissioner}]\n")
    cast = await Cast.create(db, named)
    async with db.transaction() as s:
        other_deputy = await person(s, Role.DEPUTY, "Dan Deputy")
        ann = await s.merge(cast.ambassador)
        engagement = await engagements.do_prenotify_engagement(
            s, named, title="Clun youth club", kind="Community event", place="Clun",
            starts_at=FRIDAY_4PM - dt.timedelta(hours=5),
            ends_at=FRIDAY_4PM - dt.timedelta(hours=3), after_the_fact=True, actor=ann,
            now=FRIDAY_4PM)
        await feedback.do_file_feedback(
            s, named, engagement_id=engagement.id, attendees=5, summary="Knives seen",
            follow_up_needed="police_or_partner", follow_up_detail="Knives at the skate park",
            urgency="urgent", actor=ann, now=FRIDAY_4PM)
    async with db.transaction() as s:
        first = await do_escalate_unacknowledged(s, named, now=at(30, 12))
    async with db.transaction() as s:
        second = await do_escalate_unacknowledged(s, named, now=at(30, 16))
    assert [r.destination for r in first] == [str(cast.deputy.telegram_id)]
    assert str(other_deputy.telegram_id) not in [r.destination for r in first]
    # Dee is no Commissioner: the second step goes to whoever is.
    assert [r.destination for r in second] == [str(cast.commissioner.telegram_id)]
