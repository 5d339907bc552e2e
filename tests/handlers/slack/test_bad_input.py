"""Bad input from Slack's side: forged requests of every kind, strangers, hostile names in the
sentences people are shown, modal fields empty or too long, and Slack's own API failing."""

from __future__ import annotations

import copy
import json

from sqlalchemy import update

from storage.models import AuditEvent, GrantRecommendation, Invite, Outbox, Person, Role
from tests.handlers.slack.harness import (STRANGER_ID, Office, recommend_grant, refer_grant,
                                          urgent_feedback)

HOSTILE_NAME = "<!here> John & <https://evil.example|Co>"


async def test_forged_commands_submissions_and_events_run_nothing(office: Office) -> None:
    emu = office.emu
    olive = office.uid(Role.OFFICER)
    audit_before = len(await office.rows(AuditEvent))
    for forgery in ({"bad_signature": True}, {"timestamp_offset": -600}, {"sign": False}):
        answer = await emu.slash_command(olive, "/ambassadors", "stats", **forgery)
        assert answer.status == 401, forgery
        answer = await emu.send_dm(office.uid(Role.AMBASSADOR), "hello", **forgery)
        assert answer.status == 401, forgery
        answer = await emu.send_event(olive, {"type": "app_home_opened"}, **forgery)
        assert answer.status == 401, forgery
    await emu.slash_command(olive, "/ambassadors", "invite")
    await emu.wait_for(lambda: emu.views(olive))
    forged = await emu.submit_view(olive, values={"name": "Mallory", "role": "officer"},
                                   bad_signature=True)
    assert forged.status == 401
    assert emu.ephemerals(olive) == [] and emu.home(olive) is None
    assert await office.rows(Invite) == []
    assert await office.rows(Outbox) == []
    # Nothing ran: at most the door's own note that an unverified request was refused.
    knocks = (await office.rows(AuditEvent))[audit_before:]
    assert {(a.action, a.outcome) for a in knocks} <= {("slack_request_unverified", "refused")}


async def test_a_stranger_writing_to_the_app_gets_one_sentence(office: Office) -> None:
    emu = office.emu
    await emu.send_dm(STRANGER_ID, "hello, what can you do?")
    said = await office.ephemeral(STRANGER_ID, "not part of the Community Ambassador scheme")
    assert emu.buttons(said) == [] and said.blocks in (None, [])
    await emu.slash_command(STRANGER_ID, "/ambassadors", "export")
    await office.ephemeral(STRANGER_ID, "not part of the Community Ambassador scheme")
    assert len(emu.ephemerals(STRANGER_ID)) == 2
    assert emu.views(STRANGER_ID) == [] and emu.home(STRANGER_ID) is None
    assert await office.rows(Outbox) == []


async def test_names_in_refusals_are_escaped(office: Office) -> None:
    """'Already approved by <name>': the name was typed by a person, so it can't ping or link."""
    emu = office.emu
    async with office.db.transaction() as s:
        await s.execute(update(Person).where(Person.id == office.cast.commissioner.id)
                        .values(name=HOSTILE_NAME))
    grant_id = await recommend_grant(office)
    await refer_grant(office, grant_id)
    await office.deliver()
    john = office.uid(Role.COMMISSIONER)
    decision = office.last(john)
    stale = copy.deepcopy(decision)
    await emu.click(john, decision, "grant_approve")
    await emu.wait_for(lambda: not emu.buttons(office.last(john)))
    assert "<!here>" not in json.dumps(office.last(john).blocks)
    await emu.click(john, stale, "grant_approve")
    said = await office.ephemeral(john, "already approved by")
    assert "&lt;!here&gt; John &amp; &lt;https://evil.example|Co&gt;" in said.text
    assert "<!here>" not in said.text and "<https" not in said.text


async def test_grant_reason_empty_or_too_long_is_refused_on_the_field(office: Office) -> None:
    emu = office.emu
    grant_id = await recommend_grant(office)
    await office.deliver()
    colin = office.uid(Role.COMMISSIONING)
    await emu.click(colin, office.last(office.channel("grants")), "grant_decline")
    await emu.wait_for(lambda: emu.views(colin))
    blank = await emu.submit_view(colin, values={"reason": "   \n  "})
    assert "reason" in blank.errors
    [grant] = await office.rows(GrantRecommendation)
    assert grant.status == "recommended"
    # The box takes one more than the limit (Slack's client cuts a paste at max_length without
    # a word), so a paste too long reaches the bot, which refuses it saying the limit.
    view = emu.views(colin)[-1]
    assert view.blocks[-1]["element"]["max_length"] == 2001
    long = await emu.submit_view(colin, values={"reason": "x" * 2001})
    assert "2,000" in long.errors["reason"] or "2000" in long.errors["reason"]
    done = await emu.submit_view(colin, values={"reason": "Outside the scheme."})
    assert done.errors == {}
    [grant] = await office.rows(GrantRecommendation)
    assert (grant.id, grant.status) == (grant_id, "rejected")


async def test_slack_api_errors_are_retried_by_the_outbox_not_lost(office: Office) -> None:
    """Slack failing (500, rate limit, an error answer) when the office's posts go out: the
    outbox tries again until each is delivered, once."""
    emu = office.emu
    emu.faults.fail("chat.postMessage", times=1)
    emu.faults.rate_limit("chat.postMessage", times=1, retry_after=0)
    emu.faults.error("chat.postMessage", "internal_error", times=1)
    await urgent_feedback(office)
    await office.deliver()
    assert [kind for method, kind in emu.faults.served] == ["http_error", "ratelimited", "error"]
    alerts = [m for m in emu.messages(office.channel("alerts")) if m.blocks]
    notes = [m for m in emu.messages(office.channel("engagements")) if m.blocks]
    assert len(alerts) == 1 and len(notes) == 1
    rows = await office.rows(Outbox, Outbox.transport == "slack")
    assert rows and all(r.status == "sent" for r in rows)


async def test_a_click_whose_rewrite_slack_refuses_still_lands(office: Office) -> None:
    """The decision is recorded even when Slack fails to rewrite the clicked message at once;
    the person isn't told "nothing was changed", and the outbox rewrites it afterwards."""
    emu = office.emu
    grant_id = await recommend_grant(office)
    await refer_grant(office, grant_id)
    await office.deliver()
    john = office.uid(Role.COMMISSIONER)
    decision = office.last(john)
    emu.faults.fail("chat.update", times=1)
    await emu.click(john, decision, "grant_approve")
    await emu.wait_for(lambda: ("chat.update", "http_error") in emu.faults.served)
    [grant] = await office.rows(GrantRecommendation)
    assert grant.status == "approved"
    await office.deliver()
    assert emu.buttons(office.last(john)) == []
    assert "Approved" in office.last(john).text
    assert not [m for m in emu.ephemerals(john) if "went wrong" in m.text]


async def test_a_name_one_over_the_limit_is_refused_in_the_bots_words(office: Office) -> None:
    """The invite's name box takes 121 characters, so a name too long reaches the bot and is
    refused saying the limit, rather than cut off at 120 by Slack without a word."""
    emu = office.emu
    olive = office.uid(Role.OFFICER)
    await emu.slash_command(olive, "/ambassadors", "invite")
    view = await emu.wait_for(lambda: emu.views(olive) and emu.views(olive)[-1])
    name = next(b for b in view.blocks if b.get("block_id") == "name")
    assert name["element"]["max_length"] == 121
    too_long = await emu.submit_view(olive, values={"name": "Ann " + "x" * 117,
                                                    "role": "officer"})
    assert too_long.errors == {"name": "Please give the person's name (up to 120 characters)."}
    assert await office.rows(Invite) == []
