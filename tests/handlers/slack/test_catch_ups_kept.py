"""Catch-ups kept (issue 19): an answer to the weekly catch-up question is a record (who, the
ISO week, what they said, whether it raises something); its post in the engagements channel
has "Make a follow-up", which makes one in one press; a second press says it already is
one; only those who act on follow-ups may press it."""

from __future__ import annotations

import asyncio
import copy

from storage.models import CatchUp, FollowUp, Role, utcnow
from storage.operations import reminders
from storage.operations.catch_ups import iso_week_of
from tests.handlers.slack.harness import BOB, Office

ASK = "The Kington parish council asks for a PCSO at the school gate at home time"


async def answer(office: Office, text: str) -> None:
    """Bob (Slack only) is asked this week's question and answers it in his DM."""
    async with office.db.transaction() as s:
        await reminders.do_ask_catch_up(s, office.scheme)
    await office.deliver()
    await office.emu.send_dm(BOB, text)
    for _ in range(100):                      # Bolt answers first and works afterwards
        if any(c.answer == text for c in await office.rows(CatchUp)):
            break
        await asyncio.sleep(0.05)
    await office.deliver()


async def test_an_answer_is_kept_and_made_a_follow_up_in_one_press(office: Office) -> None:
    emu, cast = office.emu, office.cast
    await answer(office, ASK)
    [kept] = await office.rows(CatchUp)
    week = iso_week_of(utcnow().astimezone(office.scheme.tz).date())
    assert (kept.person_id, kept.week, kept.answer, kept.raised, kept.follow_up_id) == (
        cast.other_ambassador.id, week, ASK, True, None)

    engagements = office.channel("engagements")
    post = office.last(engagements)
    assert ASK in str(post.blocks) and "Bob Hereford" in str(post.blocks)
    assert [b.text for b in emu.buttons(post)] == ["Make a follow-up"]
    stale = copy.deepcopy(post)

    # Not everyone may: the commissioning team is told who can, and nothing is made.
    colin = office.uid(Role.COMMISSIONING)
    await emu.click(colin, post, "catch_up_follow_up")
    await office.ephemeral(colin, "Only engagement officers, the Commissioner and the deputy "
                                  "can act on follow-ups.")
    assert await office.rows(FollowUp) == []

    olive = office.uid(Role.OFFICER)
    await emu.click(olive, post, "catch_up_follow_up")
    await emu.wait_for(lambda: "made by Olive Officer" in str(office.last(engagements).blocks))
    [follow_up] = await office.rows(FollowUp)
    assert (follow_up.owner_id, follow_up.needed_by, follow_up.status) == (
        cast.officer.id, "office", "open")
    assert ASK in follow_up.detail and "Bob Hereford" in follow_up.detail
    [kept] = await office.rows(CatchUp)
    assert kept.follow_up_id == follow_up.id
    rewritten = str(office.last(engagements).blocks)
    assert ASK in rewritten and f"Follow-up #{follow_up.id}, made by Olive Officer" in rewritten
    assert office.last(engagements).ts == post.ts
    # The post is now the follow-up's card, with the follow-up's buttons.
    assert [b.text for b in emu.buttons(office.last(engagements))] == ["Acknowledge", "Done"]

    # A second press (a post not yet refreshed) says it already is one; still one follow-up.
    dee = office.uid(Role.DEPUTY)
    await emu.click(dee, stale, "catch_up_follow_up")
    await office.ephemeral(dee, f"That catch-up is already follow-up #{follow_up.id}.")
    assert len(await office.rows(FollowUp)) == 1

    # Done from the card: the same post says so, keeping the answer; nothing goes to the
    # alerts channel (a catch-up's follow-up is not an alert).
    await office.deliver()
    await emu.click(olive, office.last(engagements), "follow_up_done")
    await emu.wait_for(lambda: "done, by Olive Officer" in str(office.last(engagements).blocks))
    await office.deliver()
    card = office.last(engagements)
    assert card.ts == post.ts and not emu.buttons(card)
    assert ASK in str(card.blocks) and "Bob Hereford" in str(card.blocks)
    [follow_up] = await office.rows(FollowUp)
    assert (follow_up.status, follow_up.done_by_id) == ("done", cast.officer.id)
    assert emu.messages(office.channel("alerts")) == []


async def test_nothing_to_report_is_kept_but_raises_nothing(office: Office) -> None:
    await answer(office, "Nothing to report this week, thanks.")
    [kept] = await office.rows(CatchUp)
    assert (kept.answer, kept.raised) == ("Nothing to report this week, thanks.", False)
