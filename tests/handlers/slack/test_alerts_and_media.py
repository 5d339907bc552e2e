"""The alerts channel (Acknowledge / Assign / Done) and the media channel (Approve for use /
Don't use / Record guardian consent), by each role."""

from __future__ import annotations

from storage.models import FollowUp, Media, Outbox, Role
from storage.operations.media import CHILDREN_WITHOUT_CONSENT
from tests.handlers.slack.harness import STRANGER_ID, Office, photo, urgent_feedback


async def test_urgent_feedback_alert_acknowledged_assigned_done(office: Office) -> None:
    emu, cast = office.emu, office.cast
    follow_up_id = await urgent_feedback(office, detail="Speeding <!channel> outside the school")
    await office.deliver()
    alerts = office.channel("alerts")
    alert = office.last(alerts)
    assert [b.text for b in emu.buttons(alert)] == ["Acknowledge", "Done"]
    assert "&lt;!channel&gt;" in str(alert.blocks) and "<!channel>" not in str(alert.blocks)
    assert "Residents worried" in str(office.last(office.channel("engagements")).blocks)

    olive = office.uid(Role.OFFICER)
    await emu.click(olive, alert, "follow_up_ack")
    await emu.wait_for(lambda: [b.text for b in emu.buttons(office.last(alerts))] == ["Done"])
    assert "acknowledged by Olive Officer" in office.last(alerts).text
    [follow_up] = await office.rows(FollowUp)
    assert (follow_up.status, follow_up.owner_id) == ("acknowledged", cast.officer.id)

    # Assign with the user picker (the Commissioner may act on follow-ups too).
    dee = office.uid(Role.DEPUTY)
    await emu.click(office.uid(Role.COMMISSIONER), office.last(alerts), "follow_up_assign",
                    selected_user=dee)
    await emu.wait_for(lambda: "assigned to Dee Deputy" in office.last(alerts).text)
    [follow_up] = await office.rows(FollowUp)
    assert follow_up.owner_id == cast.deputy.id
    await office.deliver()
    assert "assigned you a follow-up" in office.last(dee).text

    # Assign to someone outside the scheme: one sentence, nothing changes.
    await emu.click(olive, office.last(alerts), "follow_up_assign", selected_user=STRANGER_ID)
    await office.ephemeral(olive, "isn't part of the scheme")

    await emu.click(dee, office.last(alerts), "follow_up_done")
    await emu.wait_for(lambda: not emu.buttons(office.last(alerts)))
    [follow_up] = await office.rows(FollowUp)
    assert (follow_up.status, follow_up.done_by_id) == ("done", cast.deputy.id)
    assert office.last(alerts).ts == alert.ts  # rewritten in place, not posted again
    assert follow_up_id == follow_up.id


async def test_follow_up_buttons_refused_for_other_roles_and_audited(office: Office) -> None:
    emu = office.emu
    await urgent_feedback(office)
    await office.deliver()
    alert = office.last(office.channel("alerts"))
    for role, action in ((Role.COMMISSIONING, "follow_up_ack"), (Role.AMBASSADOR, "follow_up_done"),
                         (Role.ADMIN, "follow_up_ack")):
        await emu.click(office.uid(role), alert, action)
        await office.ephemeral(office.uid(role), "Only engagement officers, the Commissioner")
    await emu.click(office.uid(Role.COMMISSIONING), alert, "follow_up_assign",
                    selected_user=office.uid(Role.OFFICER))
    await office.ephemeral(office.uid(Role.COMMISSIONING), "Only engagement officers")
    assert len(await office.refusals("handle_follow_up")) == 4
    [follow_up] = await office.rows(FollowUp)
    assert follow_up.status == "open"
    await emu.click(STRANGER_ID, alert, "follow_up_ack")
    await office.ephemeral(STRANGER_ID, "not part of the Community Ambassador scheme")


async def test_children_without_consent_cannot_be_approved_until_recorded(office: Office) -> None:
    emu = office.emu
    media_id = await photo(office, children=True)
    await office.deliver()
    channel = office.channel("media")
    post = office.last(channel)
    assert [b.text for b in emu.buttons(post)] == ["Approve for use", "Don't use",
                                                   "Record guardian consent"]
    assert "Children present" in str(post.blocks)
    olive = office.uid(Role.OFFICER)
    await emu.click(olive, post, "media_approve")
    await office.ephemeral(olive, CHILDREN_WITHOUT_CONSENT[:60])
    [item] = await office.rows(Media)
    assert item.review_status == "pending"

    # Only the office may record consent; then the post loses that button.
    await emu.click(office.uid(Role.COMMISSIONER), post, "media_consent")
    await office.ephemeral(office.uid(Role.COMMISSIONER), "Only engagement officers and the deputy")
    await emu.click(olive, post, "media_consent")
    await emu.wait_for(lambda: len(emu.buttons(office.last(channel))) == 2)
    assert "guardian consent recorded by Olive Officer" in str(office.last(channel).blocks)
    [item] = await office.rows(Media)
    assert item.guardian_consent

    await emu.click(olive, office.last(channel), "media_approve")
    await emu.wait_for(lambda: not emu.buttons(office.last(channel)))
    [item] = await office.rows(Media)
    assert (item.id, item.review_status, item.reviewed_by_id) == (
        media_id, "approved", office.cast.officer.id)
    assert "approved for use — Olive Officer" in office.last(channel).text
    assert [a.action for a in await office.refusals()] == ["review_media"]


async def test_photo_uploaded_then_dont_use_by_the_deputy_refused_roles(office: Office,
                                                                         tmp_path) -> None:
    """The safe copy goes up with files_upload_v2 in the post's thread; the buttons sit on
    the post."""
    emu = office.emu
    safe = tmp_path / "ludlow-stall.jpg"
    safe.write_bytes(b"\xff\xd8\xff\xe0 a small safe jpeg \xff\xd9")
    await photo(office, children=False, safe_path=str(safe))
    await office.deliver()
    channel = office.channel("media")
    post = next(m for m in emu.messages(channel) if m.blocks)
    assert [b.text for b in emu.buttons(post)] == ["Approve for use", "Don't use"]
    [upload] = [m for m in emu.messages(channel) if m.files]
    assert upload.thread_ts == post.ts and upload.files[0]["name"] == "ludlow-stall.jpg"
    assert emu.files[upload.files[0]["id"]].content == safe.read_bytes()
    for role in (Role.COMMISSIONING, Role.COMMISSIONER, Role.AMBASSADOR):
        await emu.click(office.uid(role), post, "media_approve")
        await office.ephemeral(office.uid(role), "Only engagement officers and the deputy")
    assert len(await office.refusals("review_media")) == 3
    await emu.click(office.uid(Role.DEPUTY), post, "media_reject")
    await emu.wait_for(lambda: not emu.buttons(post))
    [item] = await office.rows(Media)
    assert item.review_status == "rejected"
    reviewed = await office.rows(Outbox, Outbox.event == "media_reviewed")
    assert reviewed[0].replaces_ref == f"media:{item.id}:media"
