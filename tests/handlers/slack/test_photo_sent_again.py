"""A photo sent again with newer answers (issue 16, case 3): the newer, more restrictive
answer wins, is audited, the office's post shows it, and the ambassador is told truthfully
what happened. A less restrictive answer leaves the stricter one and says to ask the office.

Ann on her phone (python-telegram-bot against the Telegram emulator), the office in Slack
(the dispatcher posting to the Slack emulator, slack-bolt answering its signed clicks), on
both databases."""

from __future__ import annotations

import copy
import io

import pytest
from PIL import Image

from handlers.telegram.media import telegram_media_intake
from storage.media import MediaStore, PhotoProcessor
from storage.models import AuditEvent, Media, Outbox, Role, utcnow
from storage.operations.media import NO_CONSENT
from tests.handlers.slack.harness import Office, held_engagement
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, buttons, said


def a_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
async def phone(office: Office, tmp_path):
    await held_engagement(office, "Ludlow food fair")
    processor = PhotoProcessor(MediaStore(tmp_path / "phone-media"), workers=1,
                               executor="thread")
    bot = await RunningBot(office.telegram, office.db, office.scheme, Clock(utcnow()),
                           media_intake=telegram_media_intake(processor)).start()
    ann = office.telegram.user(office.cast.ambassador.telegram_id, "Ann")
    yield ann
    await bot.stop()
    await processor.aclose()


def last_post(office: Office):
    """The newest message in the media channel with blocks (the photo itself goes up in the
    post's thread as a file)."""
    return [m for m in office.emu.messages(office.channel("media")) if m.blocks][-1]


async def send_photo(ann, data: bytes, *, consent: str, children: str) -> str:
    """/photos through to Submit; returns what the bot answered."""
    await ann.send_command("/photos")
    await said(ann, "Which engagement are they from?")
    await ann.press(next(b for b in buttons(ann.last_bot_message) if "Ludlow food fair" in b))
    await said(ann, "Send the photos or video now")
    await ann.send_photo(data)
    await said(ann, "Received 1 so far")
    await ann.press("Done ✔")
    await said(ann, "Did everyone shown agree")
    await ann.press(consent)
    await said(ann, "Are any children")
    await ann.press(children)
    await said(ann, "Anything the office should know")
    await ann.press("Skip ▶")
    summary = await said(ann, "please check")
    assert f"Consent: {consent}" in summary.text
    await ann.press("✅ Submit")
    return (await said(ann, "Thank you", timeout=20)).text


async def test_consent_withdrawn_on_a_resent_photo_reaches_the_record_and_the_office(
        office: Office, phone) -> None:
    ann, emu, channel = phone, office.emu, office.channel("media")
    photo = a_photo()
    assert "1 item sent to the office for review" in await send_photo(
        ann, photo, consent="Yes", children="No")
    await office.deliver()
    first_post = copy.deepcopy(last_post(office))
    assert "Consent given" in str(first_post.blocks) and "*NO*" not in str(first_post.blocks)

    answer = await send_photo(ann, photo, consent="No", children="No")
    assert "consent updated to No for 1 item already sent" in answer
    assert "sent to the office for review" not in answer

    [item] = await office.rows(Media)
    assert item.consent_given is False
    [change] = await office.rows(AuditEvent, AuditEvent.action == "change_media_answers")
    assert (change.actor_id, change.target_id) == (office.cast.ambassador.id, item.id)
    assert change.before["consent_given"] is True and change.after["consent_given"] is False

    await office.deliver()
    posts = [m for m in emu.messages(channel) if m.blocks]
    rewritten = next(m for m in posts if m.ts == first_post.ts)
    assert "*NO*" in str(rewritten.blocks)
    assert "Ann Shropshire changed the answers: consent updated to No" in str(rewritten.blocks)
    notice = last_post(office)
    assert notice.ts != first_post.ts and "consent updated to No" in notice.text

    # The office acting on the post as it first saw it is told what changed; on the post as
    # it is now, the approval is refused for want of consent.
    olive = office.uid(Role.OFFICER)
    await emu.click(olive, first_post, "media_approve")
    await office.ephemeral(olive, "Already decided by Ann Shropshire (consent changed to No")
    await emu.click(olive, rewritten, "media_approve")
    await office.ephemeral(olive, NO_CONSENT[:50])
    [item] = await office.rows(Media)
    assert item.review_status == "pending"


async def test_an_approved_photo_loses_its_approval_when_children_are_declared(
        office: Office, phone) -> None:
    ann, emu, channel = phone, office.emu, office.channel("media")
    photo = a_photo()
    await send_photo(ann, photo, consent="Yes", children="No")
    await office.deliver()
    olive = office.uid(Role.OFFICER)
    await emu.click(olive, last_post(office), "media_approve")
    await emu.wait_for(lambda: not emu.buttons(last_post(office)))

    answer = await send_photo(ann, photo, consent="Yes", children="Yes")
    assert "children present updated to Yes for 1 item already sent" in answer
    [item] = await office.rows(Media)
    assert (item.children_present, item.review_status, item.reviewed_by_id) == (
        True, "pending", None)
    await office.deliver()
    post = next(m for m in emu.messages(channel) if m.blocks and emu.buttons(m))
    assert "approval for use is withdrawn" in str(post.blocks)
    assert [b.text for b in emu.buttons(post)] == ["Approve for use", "Don't use",
                                                   "Record guardian consent"]


async def test_a_less_restrictive_answer_keeps_the_stricter_one_and_says_so(
        office: Office, phone) -> None:
    ann = phone
    photo = a_photo()
    await send_photo(ann, photo, consent="No", children="Yes")
    await office.deliver()
    queued = len(await office.rows(Outbox))
    answer = await send_photo(ann, photo, consent="Yes", children="No")
    assert "already sent with a stricter answer" in answer and "ask the office" in answer
    [item] = await office.rows(Media)
    assert (item.consent_given, item.children_present) == (False, True)
    assert len(await office.rows(Outbox)) == queued  # nothing new for the office
    assert await office.rows(AuditEvent, AuditEvent.action == "change_media_answers") == []

    # The same answers again: not sent twice, and said so.
    answer = await send_photo(ann, photo, consent="No", children="Yes")
    assert "already sent with these answers" in answer
