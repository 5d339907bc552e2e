"""An alert keeps everything it said after every step (issue 19): Acknowledge, Assign and
Done each add the state and who acted; what, where, who reported it, the summary and the due
date stay on the post."""

from __future__ import annotations

import datetime as dt

from scheduler.retention import enforce_retention
from storage.models import FollowUp, Role, utcnow
from tests.handlers.slack.harness import Office, urgent_feedback

DETAIL = ("Speeding outside the school", "Much Wenlock parish council", "Shropshire",
          "Ann Shropshire", "Residents worried about speeding", "Due")


def shown(office: Office) -> str:
    alert = office.last(office.channel("alerts"))
    return f"{alert.text}\n{alert.blocks}"


async def test_the_alert_keeps_its_detail_after_acknowledge_assign_and_done(
        office: Office) -> None:
    emu = office.emu
    await urgent_feedback(office)
    await office.deliver()
    alerts = office.channel("alerts")
    first = office.last(alerts)
    [follow_up] = await office.rows(FollowUp)
    due = f"{follow_up.due_at:%Y}"
    for part in DETAIL:
        assert part in shown(office)

    olive, dee = office.uid(Role.OFFICER), office.uid(Role.DEPUTY)
    await emu.click(olive, first, "follow_up_ack")
    await emu.wait_for(lambda: "acknowledged by Olive Officer" in shown(office))
    await emu.click(office.uid(Role.COMMISSIONER), office.last(alerts), "follow_up_assign",
                    selected_user=dee)
    await emu.wait_for(lambda: "assigned to Dee Deputy by John Campion" in shown(office))
    after_assign = shown(office)
    # A month on, retention has taken the text and data out of the messages delivered so
    # far; the steps are kept with the audit trail, so Done still adds to all of them.
    await office.deliver()
    await enforce_retention(office.db, office.scheme,
                            now=utcnow() + dt.timedelta(days=office.scheme.retention.
                                                        delivered_message_days + 1))
    await emu.click(dee, office.last(alerts), "follow_up_done")
    await emu.wait_for(lambda: "done, by Dee Deputy" in shown(office))

    final = shown(office)
    for part in DETAIL:
        assert part in after_assign and part in final, part
    assert due in final
    # Every step is still there, in order, with who acted.
    blocks = str(office.last(alerts).blocks)
    steps = [blocks.index(step) for step in ("acknowledged by Olive Officer",
                                            "assigned to Dee Deputy by John Campion",
                                            "done, by Dee Deputy")]
    assert steps == sorted(steps)
    assert office.last(alerts).ts == first.ts and not emu.buttons(office.last(alerts))
