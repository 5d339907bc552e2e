"""`/ambassadors`: help, join, stats, invite, meetings, export and digest — each by the roles
that may and may not use it."""

from __future__ import annotations

from scheduler.digest import post_digest
from storage.models import Invite, Meeting, MeetingRsvp, Outbox, Person, Role
from storage.operations import people
from tests.handlers.slack.harness import BOB, STRANGER_ID, Office, urgent_feedback

CMD = "/ambassadors"


async def test_help_strangers_and_joining_with_an_invite(office: Office) -> None:
    emu = office.emu
    await emu.slash_command(STRANGER_ID, CMD, "stats")
    await office.ephemeral(STRANGER_ID, "not part of the Community Ambassador scheme")
    await emu.slash_command(STRANGER_ID, CMD, "")
    await office.ephemeral(STRANGER_ID, "`join CODE`")
    await emu.slash_command(office.uid(Role.OFFICER), CMD, "dance")
    await office.ephemeral(office.uid(Role.OFFICER), "I don't know “dance”")

    async with office.db.transaction() as s:
        invite = await people.do_create_invite(s, office.scheme, name="Wendy Worcester",
                                               role="ambassador", area="Worcestershire",
                                               actor=await s.merge(office.cast.officer))
    await emu.slash_command(STRANGER_ID, CMD, "join not-a-code")
    await office.ephemeral(STRANGER_ID, "isn't recognised")
    await emu.slash_command(STRANGER_ID, CMD, f"join {invite.code}")
    await office.ephemeral(STRANGER_ID, "Welcome, Wendy Worcester")
    [wendy] = await office.rows(Person, Person.slack_id == STRANGER_ID)
    assert (wendy.name, wendy.roles, wendy.area.name) == ("Wendy Worcester", ["ambassador"],
                                                          "Worcestershire")
    home = await emu.wait_for(lambda: emu.home(STRANGER_ID))
    assert [b.text for b in emu.buttons(home)][:2] == ["📅 Pre-notify", "📝 Feedback"]
    await emu.slash_command(STRANGER_ID, CMD, f"join {invite.code}")
    await office.ephemeral(STRANGER_ID, "already been used")


async def test_stats_for_the_office_refused_for_others(office: Office) -> None:
    emu = office.emu
    await urgent_feedback(office)
    olive = office.uid(Role.OFFICER)
    await emu.slash_command(olive, CMD, "stats")
    answer = await office.ephemeral(olive, "figures")
    shown = str(answer.blocks)
    assert "*This quarter*" in shown and "*Shropshire*: 1 engagement, 1 feedback, 40 people" \
        in shown and "Grant fund: £40,000 of £40,000 remaining" in shown
    for role in (Role.AMBASSADOR, Role.COMMISSIONING):
        await emu.slash_command(office.uid(role), CMD, "stats")
        await office.ephemeral(office.uid(role), "Only engagement officers, the Commissioner, "
                                                 "the deputy and administrators can see")
    assert [a.actor_id for a in await office.refusals("see_all")] == [
        office.cast.ambassador.id, office.cast.commissioning.id]


async def test_invite_modal_shows_the_link(office: Office) -> None:
    emu = office.emu
    await emu.slash_command(office.uid(Role.COMMISSIONING), CMD, "invite")
    await office.ephemeral(office.uid(Role.COMMISSIONING), "Only engagement officers, the "
                                                           "deputy and administrators can invite")
    dee = office.uid(Role.DEPUTY)
    await emu.slash_command(dee, CMD, "invite")
    [modal] = await emu.wait_for(lambda: emu.views(dee))
    assert modal.title == "Invite someone"
    refused = await emu.submit_view(dee, values={"name": "Wendy Worcester",
                                                 "role": "ambassador"})
    assert "needs an area" in refused.errors["area"]
    done = await emu.submit_view(dee, values={"name": "Wendy Worcester", "role": "ambassador",
                                              "area": "Worcestershire"})
    assert done.errors == {}
    [invite] = await office.rows(Invite)
    shown = str(emu.views(dee)[0].blocks)
    assert f"https://t.me/WestMerciaAmbassadorBot?start={invite.code}" in shown
    assert f"/ambassadors join {invite.code}" in shown
    assert (invite.name, invite.role, invite.created_by_id) == ("Wendy Worcester",
                                                                "ambassador",
                                                                office.cast.deputy.id)


async def test_meetings_schedule_rsvp_and_cancel(office: Office) -> None:
    emu = office.emu
    olive = office.uid(Role.OFFICER)
    await emu.slash_command(office.uid(Role.AMBASSADOR), CMD, "meetings")
    await office.ephemeral(office.uid(Role.AMBASSADOR), "Only engagement officers, the deputy "
                                                        "and administrators can manage meetings")
    await emu.slash_command(olive, CMD, "meetings")
    listing = await office.ephemeral(olive, "Meetings coming up")
    assert "No meetings are scheduled." in str(listing.blocks)
    await emu.click(olive, listing, "meeting_schedule")
    [modal] = await emu.wait_for(lambda: emu.views(olive))
    bad = await emu.submit_view(olive, values={"kind": "quarterly", "title": "Quarterly",
                                               "place": "Hindlip Park", "starts_at": "soonish",
                                               "length": "120"})
    assert "couldn't read that" in bad.errors["starts_at"]
    good = await emu.submit_view(olive, values={
        "kind": "quarterly", "title": "Quarterly ambassadors' meeting", "place": "Hindlip Park",
        "starts_at": "next tuesday 10am", "length": "120"})
    assert good.errors == {}
    [meeting] = await office.rows(Meeting)
    assert (meeting.kind, (meeting.ends_at - meeting.starts_at).total_seconds()) == (
        "quarterly", 7200)
    invitations = await office.rows(Outbox, Outbox.event == "meeting_invitation")
    assert sorted(o.transport for o in invitations) == ["slack", "telegram"]

    await office.deliver()
    invitation = office.last(BOB)
    assert [b.text for b in emu.buttons(invitation)] == ["Yes, I'll come", "Can't make it",
                                                         "Maybe"]
    await emu.click(BOB, invitation, "meeting_rsvp_yes")
    await office.ephemeral(BOB, "noted your answer: yes")
    [rsvp] = await office.rows(MeetingRsvp)
    assert (rsvp.person_id, rsvp.answer) == (office.cast.other_ambassador.id, "yes")

    await emu.slash_command(olive, CMD, "meetings")
    listing = await emu.wait_for(lambda: [m for m in emu.ephemerals(olive)
                                          if "1 yes" in str(m.blocks)])
    await emu.click(olive, listing[-1], "meeting_cancel")
    await office.ephemeral(olive, "Cancelled")
    [meeting] = await office.rows(Meeting)
    assert meeting.cancelled_at is not None


async def test_export_for_administrators(office: Office) -> None:
    emu = office.emu
    await urgent_feedback(office)
    olive = office.uid(Role.OFFICER)
    await emu.slash_command(olive, CMD, "export")
    refusal = await office.ephemeral(olive, "Only administrators can export records.")
    assert "command line" not in refusal.text   # /ambassadors export works for them here
    adam = office.uid(Role.ADMIN)
    await emu.slash_command(adam, CMD, "export")
    await office.ephemeral(adam, "sent 8 CSV extracts")
    [shared] = [m for m in emu.messages(adam) if m.files]
    names = sorted(f["name"] for f in shared.files)
    assert names == ["engagements.csv", "expenses.csv", "feedback.csv", "follow_ups.csv",
                     "grants.csv", "hours.csv", "media.csv", "meetings.csv"]
    feedback_csv = next(f for f in emu.files.values() if f.name == "feedback.csv")
    assert b"Residents worried about speeding" in feedback_csv.content
    assert [a.action for a in await office.refusals()] == ["export"]


async def test_digest_now(office: Office) -> None:
    """The office posts the weekly digest on demand (scheduler/digest.py builds it)."""
    emu = office.emu
    await urgent_feedback(office)
    await post_digest(office.db, office.scheme, dry_run=True)
    olive = office.uid(Role.OFFICER)
    await emu.slash_command(office.uid(Role.AMBASSADOR), CMD, "digest")
    await office.ephemeral(office.uid(Role.AMBASSADOR), "Only engagement officers, the "
                                                        "Commissioner, the deputy and "
                                                        "administrators can see")
    await emu.slash_command(olive, CMD, "digest")
    said = await emu.wait_for(lambda: [m.text for m in emu.ephemerals(olive)
                                       if "digest" in m.text.lower()])
    assert "on its way" in said[-1]
    digests = await office.rows(Outbox, Outbox.event == "weekly_digest")
    assert [d.destination for d in digests] == [office.channel("digest"),
                                                office.uid(Role.COMMISSIONER)]
    await office.deliver()
    posted = [m for m in emu.messages(office.channel("digest")) if m.blocks]
    assert len(posted) == 1 and "digest" in posted[0].text.lower()
    assert [a.action for a in await office.refusals()] == ["see_all"]
