"""The deputy's oversight (issue 19): per ambassador, last engagement, feedback overdue, hours
this month against the commitment, open follow-ups and actions, and this week's catch-up —
from one storage read, shown by `/ambassadors team` and in App Home to the deputy and the
Commissioner; anyone else is refused with the sentence the role matrix makes."""

from __future__ import annotations

import asyncio
import datetime as dt

from storage.models import CatchUp, Role, utcnow
from storage.operations import engagements, hours, reminders
from storage.permissions import WHY, Action
from tests.handlers.slack.harness import BOB, Office, urgent_feedback

CMD = "/ambassadors"


async def seed(office: Office) -> None:
    """Ann: an engagement three days ago with no feedback, an urgent report (a follow-up
    open), 3h30m logged this month. Bob: answered this week's catch-up."""
    now = utcnow()
    async with office.db.transaction() as s:
        ann = await s.merge(office.cast.ambassador)
        await engagements.do_prenotify_engagement(
            s, office.scheme, title="Clun surgery", kind="Surgery or drop-in",
            place="Clun Library", starts_at=now - dt.timedelta(days=3),
            ends_at=now - dt.timedelta(days=3, hours=-1), after_the_fact=True, actor=ann,
            now=now)
        await hours.do_log_hours(s, worked_on=now.astimezone(office.scheme.tz).date(),
                                 minutes=210, description="Leaflets", actor=ann)
    await urgent_feedback(office)
    async with office.db.transaction() as s:
        await reminders.do_ask_catch_up(s, office.scheme)
    await office.emu.send_dm(BOB, "Kington show went well")
    for _ in range(100):
        if await office.rows(CatchUp):
            break
        await asyncio.sleep(0.05)


def lines_of(text: str) -> dict[str, str]:
    return {line.split("*")[1]: line for line in text.splitlines() if line.startswith("• *")}


async def test_before_the_weeks_question_nobody_is_marked_as_not_answering(
        office: Office) -> None:
    dee = office.uid(Role.DEPUTY)
    await office.emu.slash_command(dee, CMD, "team")
    shown = await office.ephemeral(dee, "Ambassadors")
    team = lines_of(str(shown.blocks[1]["text"]["text"]))
    assert team["Ann Shropshire"].endswith(": not asked yet")
    assert "last engagement none yet" in team["Ann Shropshire"]


async def test_the_deputy_sees_each_ambassadors_work_and_others_are_refused(
        office: Office) -> None:
    await seed(office)
    emu = office.emu
    dee = office.uid(Role.DEPUTY)
    await emu.slash_command(dee, CMD, "team")
    shown = await office.ephemeral(dee, "Ambassadors")
    team = lines_of(str(shown.blocks[1]["text"]["text"]) if len(shown.blocks) > 1
                    else shown.text)
    month = f"{utcnow().astimezone(office.scheme.tz):%B}"
    ann, bob = team["Ann Shropshire"], team["Bob Hereford"]
    assert "(Shropshire)" in ann and "feedback overdue: 1" in ann
    assert f"3h 30m of 40h in {month}" in ann
    assert "open follow-ups: 1, actions: 0" in ann and "catch-up" in ann
    assert ann.endswith("not answered") and bob.endswith(": answered")
    assert "last engagement none yet" not in ann
    assert f"0h of 40h in {month}" in bob and "feedback overdue: 0" in bob

    # The Commissioner sees the same, in App Home as well.
    john = office.uid(Role.COMMISSIONER)
    await emu.send_event(john, {"type": "app_home_opened"})
    home = await emu.wait_for(lambda: emu.home(john))
    assert ann.replace("• ", "") in str(home.blocks).replace("• ", "")

    # An officer's App Home has no such section; an ambassador asking is refused.
    olive = office.uid(Role.OFFICER)
    await emu.send_event(olive, {"type": "app_home_opened"})
    officer_home = await emu.wait_for(lambda: emu.home(olive))
    assert "catch-up" not in str(officer_home.blocks)
    for role in (Role.AMBASSADOR, Role.OFFICER):
        await emu.slash_command(office.uid(role), CMD, "team")
        await office.ephemeral(office.uid(role), WHY[Action.OVERSEE])
    assert WHY[Action.OVERSEE] == ("Only the Commissioner and the deputy can see each "
                                   "ambassador's work at a glance.")
    assert len(await office.refusals(Action.OVERSEE.value)) == 2
