"""After an ambassador is erased, the office's urgent alert about their feedback is edited in
place to show the dated placeholder, never their name or words, and is still closed with its
buttons."""

from __future__ import annotations

from storage.models import FollowUp, Role
from storage.operations import people
from storage.privacy.erasure import do_erase_person
from tests.handlers.slack.conftest import office  # noqa: F401 — the running office fixture
from tests.handlers.slack.harness import Office, urgent_feedback
from tests.storage.seed import NOW

PLACEHOLDER = "Text erased on 24 Nov 2026 at the person's request."


def shown(office: Office) -> str:  # noqa: F811
    alert = office.last(office.channel("alerts"))
    return f"{alert.text}\n{alert.blocks}"


async def test_the_erased_persons_follow_up_is_closed_from_slack(office: Office) -> None:  # noqa: F811
    emu = office.emu
    follow_up_id = await urgent_feedback(office, detail="Ring Mrs Pugh at the Old Forge")
    await office.deliver()
    assert "Ann Shropshire" in shown(office) and "Mrs Pugh" in shown(office)
    async with office.db.transaction() as s:
        await do_erase_person(s, office.scheme, person_id=office.cast.ambassador.id,
                              actor=await people.get_person(s, office.cast.admin.id), now=NOW)
    await office.deliver()
    # The post is edited in place at once.
    await office.emu.wait_for(lambda: PLACEHOLDER in shown(office))
    assert "Ann Shropshire" not in shown(office) and "Mrs Pugh" not in shown(office)

    olive = office.uid(Role.OFFICER)
    await emu.click(olive, office.last(office.channel("alerts")), "follow_up_done")
    await emu.wait_for(lambda: "done, by Olive Officer" in shown(office))
    final = shown(office)
    assert PLACEHOLDER in final
    assert "Ann Shropshire" not in final and "Mrs Pugh" not in final
    [follow_up] = await office.rows(FollowUp, FollowUp.id == follow_up_id)
    assert follow_up.status == "done" and follow_up.detail == PLACEHOLDER
