"""Every button on every Slack surface, pressed by every role (DESIGN §8): the roles the matrix
allows get the effect; every other role gets the matrix's one sentence, only to them, nothing
changes, and the refusal is audited; someone the scheme doesn't know gets one sentence and
nothing else."""

from __future__ import annotations

from typing import Any

from bot.emulators.slack import SlackView
from storage.models import FollowUp, GrantRecommendation, Media, Meeting, MeetingRsvp, Role
from storage.permissions import WHY, Action
from tests.handlers.slack.harness import (BOB, STRANGER_ID, Office, photo, recommend_grant,
                                          refer_grant, urgent_feedback)
from tests.handlers.slack.test_render import mrkdwn_texts

A, O, C, P, D, X = (Role.AMBASSADOR, Role.OFFICER, Role.COMMISSIONING, Role.COMMISSIONER,
                    Role.DEPUTY, Role.ADMIN)
EVERYONE = (A, O, C, P, D, X)
NOT_PART = "not part of the Community Ambassador scheme"


async def refused(office: Office, role: Role | None, message: Any, action_id: str,
                  sentence: str, **click: Any) -> None:
    """Click as `role` (None: a stranger) and see the one sentence, shown only to them."""
    user = office.uid(role) if role else STRANGER_ID
    emu = office.emu
    await emu.click(user, message, action_id, **click)
    if isinstance(message, SlackView):
        # A button on the App Home has no channel to answer in: a small modal says it.
        [notice] = await emu.wait_for(lambda: emu.views(user))
        assert notice.callback_id == "notice" and emu.buttons(notice) == []
        assert [t for t in mrkdwn_texts(notice.blocks) if sentence in t], (role, action_id)
        await emu.close_view(user)
        return
    await office.ephemeral(user, sentence)
    assert emu.views(user) == [], (role, action_id)


async def audited(office: Office, action: Action) -> list[tuple[int | None, int | None]]:
    return [(a.actor_id, a.target_id) for a in await office.refusals(action.value)]


async def modal_opened(office: Office, role: Role, message: Any, action_id: str,
                       title: str) -> None:
    user = office.uid(role)
    await office.emu.click(user, message, action_id)
    await office.emu.wait_for(lambda: [v for v in office.emu.views(user) if v.title == title])
    await office.emu.close_view(user)


async def test_follow_up_buttons_by_every_role(office: Office) -> None:
    emu, cast = office.emu, office.cast
    follow_up_id = await urgent_feedback(office)
    await office.deliver()
    alert = office.last(office.channel("alerts"))
    why = WHY[Action.HANDLE_FOLLOW_UP]
    for role in (A, C, X):
        await refused(office, role, alert, "follow_up_ack", why)
        await refused(office, role, alert, "follow_up_assign", why,
                      selected_user=office.uid(O))
        await refused(office, role, alert, "follow_up_done", why)
    for action in ("follow_up_ack", "follow_up_done"):
        await refused(office, None, alert, action, NOT_PART)
    await refused(office, None, alert, "follow_up_assign", NOT_PART, selected_user=office.uid(O))
    assert await audited(office, Action.HANDLE_FOLLOW_UP) == [
        (cast.by_role(role).id, follow_up_id) for role in (A, C, X) for _ in range(3)]
    [follow_up] = await office.rows(FollowUp)
    assert (follow_up.status, follow_up.owner_id) == ("open", None)

    # Each role the matrix allows: acknowledge, assign to the deputy, done — on its own alert.
    for role in (O, P, D):
        follow_up_id = await urgent_feedback(office, detail=f"For {role.value}")
        await office.deliver()
        alerts = office.channel("alerts")
        alert = office.last(alerts)
        user = office.uid(role)
        await emu.click(user, alert, "follow_up_ack")
        await emu.wait_for(lambda: "acknowledged by" in office.last(alerts).text)
        await emu.click(user, office.last(alerts), "follow_up_assign",
                        selected_user=office.uid(D))
        await emu.wait_for(lambda: "assigned to" in office.last(alerts).text)
        await emu.click(user, office.last(alerts), "follow_up_done")
        await emu.wait_for(lambda: not emu.buttons(office.last(alerts)))
        [done] = await office.rows(FollowUp, FollowUp.id == follow_up_id)
        assert (done.status, done.owner_id, done.done_by_id) == ("done", cast.deputy.id,
                                                                 cast.by_role(role).id)
    assert len(await office.refusals(Action.HANDLE_FOLLOW_UP.value)) == 9


async def test_media_buttons_by_every_role(office: Office) -> None:
    emu, cast = office.emu, office.cast
    media_id = await photo(office, children=True)
    await office.deliver()
    post = office.last(office.channel("media"))
    why = WHY[Action.REVIEW_MEDIA]
    for role in (A, C, P, X):
        for action in ("media_approve", "media_reject", "media_consent"):
            await refused(office, role, post, action, why)
    for action in ("media_approve", "media_reject", "media_consent"):
        await refused(office, None, post, action, NOT_PART)
    assert await audited(office, Action.REVIEW_MEDIA) == [
        (cast.by_role(role).id, media_id) for role in (A, C, P, X) for _ in range(3)]
    [item] = await office.rows(Media)
    assert (item.review_status, item.guardian_consent) == ("pending", False)

    # The officer and the deputy: record consent, then approve; or don't use.
    for role, approve in ((O, True), (D, False)):
        media_id = await photo(office, children=True)
        await office.deliver()
        channel = office.channel("media")
        user = office.uid(role)
        await emu.click(user, office.last(channel), "media_consent")
        await emu.wait_for(lambda: len(emu.buttons(office.last(channel))) == 2)
        await emu.click(user, office.last(channel),
                        "media_approve" if approve else "media_reject")
        await emu.wait_for(lambda: not emu.buttons(office.last(channel)))
        [item] = await office.rows(Media, Media.id == media_id)
        assert (item.review_status, item.guardian_consent, item.reviewed_by_id) == (
            "approved" if approve else "rejected", True, cast.by_role(role).id)


async def test_grant_buttons_by_every_role(office: Office) -> None:
    emu, cast = office.emu, office.cast
    grant_id = await recommend_grant(office)
    await office.deliver()
    post = office.last(office.channel("grants"))
    scrutiny = WHY[Action.SCRUTINISE_GRANT]
    for role in (A, O, P, X):
        for action in ("grant_refer", "grant_ask", "grant_decline"):
            await refused(office, role, post, action, scrutiny)
    for role in (A, O, C, P, X):
        await refused(office, role, post, "grant_deputy", WHY[Action.ADD_DEPUTY_RECOMMENDATION])
    for action in ("grant_refer", "grant_ask", "grant_decline", "grant_deputy"):
        await refused(office, None, post, action, NOT_PART)
    assert await audited(office, Action.SCRUTINISE_GRANT) == [
        (cast.by_role(role).id, grant_id) for role in (A, O, P, X) for _ in range(3)]
    assert await audited(office, Action.ADD_DEPUTY_RECOMMENDATION) == [
        (cast.by_role(role).id, grant_id) for role in (A, O, C, P, X)]
    [grant] = await office.rows(GrantRecommendation)
    assert grant.status == "recommended"

    # Allowed: the modals open for the commissioning team and the deputy (the deputy's own
    # recommendation only for the deputy), and each of them can refer.
    for role in (C, D):
        await modal_opened(office, role, post, "grant_ask", "Ask for information")
        await modal_opened(office, role, post, "grant_decline", "Decline the grant")
    await modal_opened(office, D, post, "grant_deputy", "Add recommendation")
    for role in (C, D):
        grant_id = await recommend_grant(office, organisation=f"Club for {role.value}")
        await office.deliver()
        grants_channel = office.channel("grants")
        await emu.click(office.uid(role), office.last(grants_channel), "grant_refer")
        await emu.wait_for(lambda: not emu.buttons(office.last(grants_channel)))
        [referred] = await office.rows(GrantRecommendation, GrantRecommendation.id == grant_id)
        assert (referred.status, referred.scrutinised_by_id) == ("referred",
                                                                 cast.by_role(role).id)

    # The decision: only the Commissioner, for both buttons.
    await refer_grant(office, 1)
    await office.deliver()
    decision = office.last(office.uid(P))
    decide = WHY[Action.DECIDE_GRANT]
    for role in (A, O, C, D, X):
        await refused(office, role, decision, "grant_approve", decide)
        await refused(office, role, decision, "grant_reject", decide)
    await refused(office, None, decision, "grant_approve", NOT_PART)
    await refused(office, None, decision, "grant_reject", NOT_PART)
    assert len(await office.refusals(Action.DECIDE_GRANT.value)) == 10
    await modal_opened(office, P, decision, "grant_reject", "Reject the grant")
    await emu.click(office.uid(P), decision, "grant_approve")
    await emu.wait_for(lambda: not emu.buttons(office.last(office.uid(P))))
    [approved] = await office.rows(GrantRecommendation, GrantRecommendation.id == 1)
    assert (approved.status, approved.decided_by_id) == ("approved", cast.commissioner.id)


async def test_meeting_and_office_buttons_by_every_role(office: Office) -> None:
    emu, cast = office.emu, office.cast
    olive = office.uid(O)
    await emu.slash_command(olive, "/ambassadors", "meetings")
    listing = await office.ephemeral(olive, "Meetings coming up")
    await emu.click(olive, listing, "meeting_schedule")
    await emu.wait_for(lambda: emu.views(olive))
    await emu.submit_view(olive, values={
        "kind": "catch_up", "title": "Weekly catch-up", "place": "Online",
        "starts_at": "next tuesday 10am", "length": "30"})
    [meeting] = await office.rows(Meeting)
    assert meeting.kind == "catch_up"
    await emu.slash_command(olive, "/ambassadors", "meetings")
    listing = await office.ephemeral(olive, "Weekly catch-up")

    manage = WHY[Action.MANAGE_MEETINGS]
    for role in (A, C, P):
        await refused(office, role, listing, "meeting_cancel", manage)
        await refused(office, role, listing, "meeting_schedule", manage)
    await refused(office, None, listing, "meeting_cancel", NOT_PART)
    await refused(office, None, listing, "meeting_schedule", NOT_PART)
    assert await audited(office, Action.MANAGE_MEETINGS) == [
        (cast.by_role(role).id, target) for role in (A, C, P) for target in (meeting.id, None)]
    for role in (O, D, X):
        await modal_opened(office, role, listing, "meeting_schedule", "Schedule a meeting")

    # The App Home's Invite / Schedule buttons, as an officer would see them, pressed by others.
    await emu.send_event(olive, {"type": "app_home_opened"})
    home = await emu.wait_for(lambda: emu.home(olive))
    for role in (A, C, P):
        await refused(office, role, home, "home_invite", WHY[Action.INVITE])
        await refused(office, role, home, "home_meeting", manage)
    for role in (O, D, X):
        await modal_opened(office, role, home, "home_invite", "Invite someone")
        await modal_opened(office, role, home, "home_meeting", "Schedule a meeting")
    assert len(await office.refusals(Action.INVITE.value)) == 3

    # RSVP: the ambassadors answer; the office is not asked.
    await office.deliver()
    invitation = office.last(BOB)
    for role in (O, C, P, D, X):
        await refused(office, role, invitation, "meeting_rsvp_yes", WHY[Action.RSVP])
    await refused(office, None, invitation, "meeting_rsvp_no", NOT_PART)
    assert len(await office.refusals(Action.RSVP.value)) == 5
    assert await office.rows(MeetingRsvp) == []
    await emu.click(office.uid(A), invitation, "meeting_rsvp_maybe")
    await office.ephemeral(office.uid(A), "noted your answer: maybe")
    await emu.click(BOB, invitation, "meeting_rsvp_no")
    await office.ephemeral(BOB, "noted your answer: no")
    answers = {(r.person_id, r.answer) for r in await office.rows(MeetingRsvp)}
    assert answers == {(cast.ambassador.id, "maybe"), (cast.other_ambassador.id, "no")}

    # Cancelling: an allowed role (the deputy) on the same listing.
    await emu.click(office.uid(D), listing, "meeting_cancel")
    await office.ephemeral(office.uid(D), "Cancelled")
    [meeting] = await office.rows(Meeting)
    assert meeting.cancelled_at is not None


async def test_form_buttons_by_every_role(office: Office) -> None:
    """The ambassador's form buttons open modals for ambassadors only."""
    emu = office.emu
    ann = office.uid(A)
    await emu.send_event(ann, {"type": "app_home_opened"})
    home = await emu.wait_for(lambda: emu.home(ann))
    forms = [b.action_id for b in emu.buttons(home) if b.action_id.startswith("open_form_")]
    assert len(forms) >= 6
    for role in (O, C, P, D, X):
        for action in forms:
            sentence = WHY[Action.RECOMMEND_GRANT if action == "open_form_grant"
                           else Action.OWN_RECORDS]
            await refused(office, role, home, action, sentence)
    for action in forms:
        await refused(office, None, home, action, NOT_PART)
    assert len(await office.refusals(Action.OWN_RECORDS.value)) == 5 * (len(forms) - 1)
    assert len(await office.refusals(Action.RECOMMEND_GRANT.value)) == 5
    for action in forms:
        await emu.click(ann, home, action)
        await emu.wait_for(lambda: emu.views(ann) and emu.views(ann)[-1].callback_id
                           == "ambassador_form")
        await emu.close_view(ann)
