"""Every media action on an older copy of the post, after the photo's review state moved on,
is refused with who moved it, what they decided and when — and changes nothing (issue 16,
case 4). Through slack-bolt's signed requests and the Slack emulator, on both databases.

The older copy is the post as it was before the move (a second client not yet refreshed, or
a post the dispatcher posted again): a deep copy of the emulator's message."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from handlers.slack.render import already_decided
from storage.parsers import format_when
from storage.models import AuditEvent, Media, Role
from storage.operations import media
from tests.handlers.slack.harness import Office, held_engagement

PHOTO_HASH = "c4" * 32
ACTIONS = ("media_approve", "media_reject", "media_consent")


async def children_photo(office: Office) -> int:
    """A photo with children in it and no guardian consent: all three buttons on its post."""
    engagement_id = await held_engagement(office, "Ludlow food fair")
    async with office.db.transaction() as s:
        item = await media.do_record_media(
            s, office.scheme, engagement_id=engagement_id, kind="photo", consent_given=True,
            children_present=True, content_hash=PHOTO_HASH, caption="The stall",
            actor=await s.merge(office.cast.ambassador))
        return item.id


async def rejected_by_deputy(office: Office, media_id: int) -> str:
    await office.emu.click(office.uid(Role.DEPUTY), office.last(office.channel("media")),
                           "media_reject")
    await office.emu.wait_for(lambda: not office.emu.buttons(office.last(office.channel("media"))))
    return "Dee Deputy"


async def consent_recorded(office: Office, media_id: int) -> str:
    channel = office.channel("media")
    await office.emu.click(office.uid(Role.OFFICER), office.last(channel), "media_consent")
    await office.emu.wait_for(lambda: len(office.emu.buttons(office.last(channel))) == 2)
    return "Olive Officer"


async def approved_after_consent(office: Office, media_id: int) -> str:
    await consent_recorded(office, media_id)
    channel = office.channel("media")
    await office.emu.click(office.uid(Role.DEPUTY), office.last(channel), "media_approve")
    await office.emu.wait_for(lambda: not office.emu.buttons(office.last(channel)))
    return "Dee Deputy"


async def consent_withdrawn_by_ambassador(office: Office, media_id: int) -> str:
    """The same photo sent again with consent No (issue 16, case 3)."""
    [item] = await office.rows(Media)
    async with office.db.transaction() as s:
        await media.do_record_media(
            s, office.scheme, engagement_id=item.engagement_id, kind="photo",
            consent_given=False, children_present=True, content_hash=PHOTO_HASH,
            actor=await s.merge(office.cast.ambassador))
    await office.deliver()
    return "Ann Shropshire"


MOVES = {"not for use": rejected_by_deputy, "guardian consent recorded": consent_recorded,
         "approved for use": approved_after_consent,
         "consent changed to No": consent_withdrawn_by_ambassador}


def seen(message) -> str:
    """What a person sees of a message (block ids are Slack's bookkeeping)."""
    return str([{k: v for k, v in block.items() if k != "block_id"}
                for block in message.blocks]) + message.text


def state(item: Media) -> tuple:
    return (item.review_status, item.reviewed_by_id, item.reviewed_at, item.guardian_consent,
            item.consent_given, item.children_present)


@pytest.mark.parametrize("decision", list(MOVES))
@pytest.mark.parametrize("action", ACTIONS)
async def test_a_stale_media_button_is_refused_with_who_what_and_when(
        office: Office, action: str, decision: str) -> None:
    emu = office.emu
    media_id = await children_photo(office)
    await office.deliver()
    channel = office.channel("media")
    older_copy = copy.deepcopy(office.last(channel))
    assert [b.text for b in emu.buttons(older_copy)] == ["Approve for use", "Don't use",
                                                        "Record guardian consent"]
    by = await MOVES[decision](office, media_id)
    await office.deliver()

    [before] = await office.rows(Media)
    shown_now = copy.deepcopy(office.last(channel))
    audits = len(await office.rows(AuditEvent))
    olive = office.uid(Role.OFFICER)
    await emu.click(olive, older_copy, action)
    refusal = await office.ephemeral(olive, "Already decided by")

    async with office.db.transaction() as s:
        last = await s.scalar(select(AuditEvent).where(
            AuditEvent.target_type == "media", AuditEvent.target_id == media_id,
            AuditEvent.outcome == "done").order_by(AuditEvent.id.desc()).limit(1))
    assert refusal.text == (f"Already decided by {by} ({decision}, "
                            f"{format_when(last.at, office.scheme.timezone)}).")
    # Nothing changed: not the record, not the audit trail, not the post the office sees.
    [after] = await office.rows(Media)
    assert state(after) == state(before)
    assert len(await office.rows(AuditEvent)) == audits
    await office.deliver()
    assert seen(office.last(channel)) == seen(shown_now)
    if decision in ("not for use", "approved for use"):
        assert decision.capitalize() in str(office.last(channel).blocks) or \
            decision in office.last(channel).text


async def test_the_issue_case_stale_guardian_consent_after_dont_use(office: Office) -> None:
    """Children, no guardian consent → the deputy presses Don't use → an officer presses
    Record guardian consent on an older copy: refused; guardian consent stays unrecorded and
    the post still says not for use."""
    emu = office.emu
    await children_photo(office)
    await office.deliver()
    channel = office.channel("media")
    older_copy = copy.deepcopy(office.last(channel))
    await rejected_by_deputy(office, 0)
    olive = office.uid(Role.OFFICER)
    await emu.click(olive, older_copy, "media_consent")
    said = await office.ephemeral(olive, "Already decided by Dee Deputy (not for use,")
    assert "guardian" not in said.text
    [item] = await office.rows(Media)
    assert (item.review_status, item.guardian_consent) == ("rejected", False)
    await office.deliver()
    assert "not for use — Dee Deputy" in office.last(channel).text


async def test_the_storage_rule_holds_without_a_shown_state(office: Office) -> None:
    """Posts made before buttons carried their state: a decided photo is still refused as
    already decided (not with the children sentence)."""
    media_id = await children_photo(office)
    await office.deliver()
    await rejected_by_deputy(office, media_id)
    for act in (lambda s, who: media.do_review_media(s, office.scheme, media_id=media_id,
                                                     approve=True, actor=who),
                lambda s, who: media.do_record_guardian_consent(s, office.scheme,
                                                                media_id=media_id, actor=who)):
        with pytest.raises(media.AlreadyDecided) as refused:
            async with office.db.transaction() as s:
                await act(s, await s.merge(office.cast.officer))
        assert (refused.value.by, refused.value.decision) == ("Dee Deputy", "not for use")
        assert already_decided(refused.value).startswith("Already decided by Dee Deputy")


async def test_a_refused_photo_whose_consent_is_then_withdrawn_still_shows_not_for_use(
        office: Office) -> None:
    """The post rewritten for the newer answer keeps the decision on it (and no buttons)."""
    media_id = await children_photo(office)
    await office.deliver()
    await rejected_by_deputy(office, media_id)
    await consent_withdrawn_by_ambassador(office, media_id)
    [item] = await office.rows(Media)
    assert (item.review_status, item.consent_given) == ("rejected", False)
    post = [m for m in office.emu.messages(office.channel("media")) if m.blocks][0]
    shown = seen(post)
    assert "Not for use* — Dee Deputy" in shown and "consent updated to No" in shown
    assert office.emu.buttons(post) == []
