"""`/ambassadors report panel 2026-Q3` from Slack: the office, the deputy and the Commissioner
get the PDF in their own direct messages (through the outbox and the emulator's real file
upload); others get one sentence; a period that is not one gets a sentence too."""

from __future__ import annotations

import asyncio
import subprocess

from storage.models import Role
from tests.handlers.slack.harness import Office, urgent_feedback

CMD = "/ambassadors"


async def test_the_panel_report_arrives_as_a_pdf_in_the_dm(office: Office, tmp_path) -> None:
    emu = office.emu
    await urgent_feedback(office)
    helen = office.uid(Role.COMMISSIONER)
    await emu.slash_command(helen, CMD, "report panel 2026-Q3")
    await office.ephemeral(helen, "Putting the panel report for July to September 2026 "
                                  "together")
    # The PDF is drawn after the answer above; the outbox row follows it.
    posts: list = []
    for _ in range(100):
        await office.deliver()
        posts = [m for m in emu.messages(helen) if m.files]
        if posts:
            break
        await asyncio.sleep(0.1)
    [post] = posts
    [shared] = post.files
    assert shared["name"].startswith("panel-2026-Q3-") and shared["name"].endswith(".pdf")
    content = next(f for f in emu.files.values() if f.name == shared["name"]).content
    assert content[:5] == b"%PDF-"
    pdf = tmp_path / "got.pdf"
    pdf.write_bytes(content)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "July to September 2026" in text and "Engagements by area" in text
    # The grants register the same way (the office can publish it from Slack).
    await emu.slash_command(helen, CMD, "report grants 2026-27")
    await office.ephemeral(helen, "Putting the grants register for 1 April 2026 to 31 March "
                                  "2027 together")
    for _ in range(100):
        await office.deliver()
        if len([m for m in emu.messages(helen) if m.files]) == 2:
            break
        await asyncio.sleep(0.1)
    names = [f["name"] for m in emu.messages(helen) if m.files for f in m.files]
    assert names[1].startswith("grants-2026-27-") and names[1].endswith(".pdf")
    # Only Helen's DM got them.
    olive = office.uid(Role.OFFICER)
    assert not [m for m in emu.messages(olive) if m.files]


async def test_who_may_not_and_what_is_not_a_period(office: Office) -> None:
    emu = office.emu
    ann = office.uid(Role.AMBASSADOR)
    await emu.slash_command(ann, CMD, "report panel 2026-Q3")
    await office.ephemeral(ann, "Only engagement officers, the Commissioner, the deputy and "
                                "administrators can see")
    olive = office.uid(Role.OFFICER)
    await emu.slash_command(olive, CMD, "report panel 2026-Q9")
    await office.ephemeral(olive, "is not a quarter; write it like 2026-Q3")
    await emu.slash_command(olive, CMD, "report")
    await office.ephemeral(olive, "Which report?")
    assert [a.action for a in await office.refusals()] == ["see_all"]
