"""The weekly digest's Catch-ups section (issue 19): who answered the week's catch-up, who has
not answered for two weeks running, and what was raised — with the follow-up the office made
of it. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from scheduler.digest import build_digest, digest_blocks, digest_text
from storage.models import CatchUp, Person, Role
from storage.operations import catch_ups, reminders
from tests.storage.seed import Cast, person

WEEK = dt.date(2026, 11, 16)                    # Monday of 2026-W47
LAST_WEEK = WEEK - dt.timedelta(days=7)
RAISED = "Kington parish council asks for a PCSO at the school gate at home time"


def wednesday(monday: dt.date) -> dt.datetime:
    return dt.datetime.combine(monday + dt.timedelta(days=2), dt.time(11), dt.UTC)


async def test_the_digest_names_who_answered_who_missed_twice_and_what_was_raised(
        db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    async with db.transaction() as s:
        raj = await person(s, Role.AMBASSADOR, "Raj Patel", "Telford and Wrekin")
        megan = await person(s, Role.AMBASSADOR, "Megan Pryce", "Herefordshire")
        # Tom joined in the digest's week: he cannot have missed two weeks yet.
        tom = await person(s, Role.AMBASSADOR, "Tom Fairbairn", "Worcestershire")
        await s.execute(update(Person).where(Person.id.in_(
            [cast.ambassador.id, cast.other_ambassador.id, raj.id, megan.id]))
            .values(created_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC)))
        await s.execute(update(Person).where(Person.id == tom.id)
                        .values(created_at=wednesday(WEEK)))
        ann, bob = await s.merge(cast.ambassador), await s.merge(cast.other_ambassador)
        # Last week only Raj answered; this week Ann raised something and Bob had nothing.
        # Megan answered neither week.
        await reminders.do_answer_catch_up(s, scheme, text="Quiet week, thanks", actor=raj,
                                           now=wednesday(LAST_WEEK), week="2026-W46")
        await reminders.do_answer_catch_up(s, scheme, text=RAISED, actor=ann,
                                           now=wednesday(WEEK), week="2026-W47")
        await reminders.do_answer_catch_up(s, scheme, text="Nothing to report", actor=bob,
                                           now=wednesday(WEEK), week="2026-W47")
    async with db.transaction() as s:
        raised = await s.scalar(select(CatchUp).where(CatchUp.answer == RAISED))
        made = await catch_ups.do_make_follow_up(s, scheme, catch_up_id=raised.id,
                                                 actor=await s.merge(cast.officer),
                                                 now=wednesday(WEEK))

    async with db.transaction() as s:
        digest = await build_digest(s, scheme, WEEK)
    text = digest_text(digest)
    section = text.split("Catch-ups:\n", 1)[1].split("\n\n", 1)[0]
    assert section.splitlines() == [
        "  Answered: Ann Shropshire, Bob Hereford.",
        "  No answer two weeks running: Megan Pryce.",
        "  Raised:",
        f"    Ann Shropshire: “{RAISED}” (follow-up #{made.id})"]
    assert "No answer two weeks running: Megan Pryce." in str(digest_blocks(digest))
