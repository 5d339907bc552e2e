"""App Home for each role: the office's glance, the commissioning team's grants, an
ambassador's own records with form buttons, and one sentence for a stranger."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import update

from storage.models import Outbox, Person, Role
from tests.handlers.slack.harness import (STRANGER_ID, Office, recommend_grant, refer_grant,
                                          urgent_feedback)


async def opened(office: Office, user: str):
    await office.emu.send_event(user, {"type": "app_home_opened"})
    return await office.emu.wait_for(lambda: office.emu.home(user))


async def test_app_home_for_each_role(office: Office) -> None:
    emu = office.emu
    await urgent_feedback(office)
    grant_id = await recommend_grant(office, organisation="Bishop's Castle <Youth> & Co")
    await refer_grant(office, grant_id)

    for role in (Role.OFFICER, Role.COMMISSIONER, Role.DEPUTY, Role.ADMIN):
        home = await opened(office, office.uid(role))
        shown = str(home.blocks)
        assert "at a glance" in shown, role
        assert "*This week's engagements*" in shown and "*Open follow-ups* (1, 0 overdue)" in shown
        assert "under a day: 1" in shown and "Speeding outside the school" in shown
        assert "fund remaining £40,000 of £40,000" in shown
        assert "Bishop's Castle &lt;Youth&gt; &amp; Co" in shown
        assert "*Feedback overdue*" in shown
        buttons = [b.text for b in emu.buttons(home)]
        if role is Role.COMMISSIONER:
            assert buttons == ["Refresh"]
        else:
            assert buttons == ["Invite someone", "Schedule a meeting", "Refresh"]

    colin = await opened(office, office.uid(Role.COMMISSIONING))
    assert "Community Ambassador grants" in str(colin.blocks)
    assert "Speeding" not in str(colin.blocks)  # grants only (DESIGN §8)

    ann = await opened(office, office.uid(Role.AMBASSADOR))
    shown = str(ann.blocks)
    assert "Your Community Ambassador records" in shown
    assert "£750 to Bishop's Castle &lt;Youth&gt; &amp; Co: with the commissioner" in shown
    assert [b.text for b in emu.buttons(ann)] == ["📅 Pre-notify", "📝 Feedback", "📷 Photos",
                                                  "💷 Grant", "⏱ Hours", "🧾 Expenses",
                                                  "🌴 Away"]

    stranger = await opened(office, STRANGER_ID)
    assert len(stranger.blocks) == 1 and "not part of the Community Ambassador scheme" in \
        str(stranger.blocks)
    assert emu.buttons(stranger) == []

    # Refresh republishes; Invite opens the modal for an officer.
    olive = office.uid(Role.OFFICER)
    await emu.click(olive, emu.home(olive), "home_invite")
    [modal] = await emu.wait_for(lambda: emu.views(olive))
    assert modal.title == "Invite someone"
    before = emu.home(olive).hash
    await emu.click(olive, emu.home(olive), "home_refresh")
    await emu.wait_for(lambda: emu.home(olive).hash != before)


async def test_inactive_people_see_one_sentence(office: Office) -> None:
    async with office.db.transaction() as s:
        await s.execute(update(Person).where(Person.id == office.cast.officer.id)
                        .values(active=False))
    olive = office.uid(Role.OFFICER)
    home = await opened(office, olive)
    assert "not active" in str(home.blocks) and office.emu.buttons(home) == []
    await office.emu.slash_command(olive, "/ambassadors", "stats")
    await office.ephemeral(olive, "not active")
    assert [a.reason for a in await office.refusals("see_all")] == [
        "Your account is not active. Please contact the engagement team if you think this "
        "is a mistake."]


async def test_a_dm_delivered_twice_is_answered_once_and_the_url_is_verified(
        office: Office) -> None:
    """Slack re-sends an event it thinks was lost (X-Slack-Retry-Num): one reply queued."""
    emu = office.emu
    challenge = await emu.url_verification("ch4llenge")
    assert challenge.status == 200 and "ch4llenge" in challenge.body
    user = emu.user(office.uid(Role.AMBASSADOR))
    envelope = {"token": emu.verification_token, "team_id": emu.team_id,
                "api_app_id": emu.app_id, "type": "event_callback", "event_id": "Ev0TWICE01",
                "event_time": 1_700_000_000,
                "authorizations": [{"team_id": emu.team_id, "user_id": emu.bot_user_id,
                                    "is_bot": True, "enterprise_id": None,
                                    "is_enterprise_install": False}],
                "event": {"type": "message", "channel": user.dm_channel, "user": user.id,
                          "text": "menu please", "ts": "1700000000.000100",
                          "event_ts": "1700000000.000100", "channel_type": "im"}}
    body = json.dumps(envelope)
    first = await emu._deliver(body, "application/json")
    again = await emu._deliver(body, "application/json", retry_num=1)
    assert (first.status, again.status) == (200, 200)

    async def menus() -> list[Outbox]:
        return await office.rows(Outbox, Outbox.event == "slack_menu")
    for _ in range(100):
        if await menus():
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # the retry's listener has had its chance too
    assert [o.destination for o in await menus()] == [user.id]
