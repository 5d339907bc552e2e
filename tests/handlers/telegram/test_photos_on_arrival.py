"""Bad files are refused as they arrive, by name, before the consent questions (issue 22); the
count of what arrived is one message, edited, with one set of buttons; a big photo says it
is still being checked."""

from __future__ import annotations

import datetime as dt
import io
import os

import pytest
from PIL import Image
from sqlalchemy import select

from bot.emulators.telegram import TelegramEmulator
from handlers.telegram.media import TelegramMedia, ordinal, subject
from storage.media import MediaStore, PhotoProcessor
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, said
from tests.handlers.telegram.test_photos import choose_engagement, jpeg_with_gps, media_rows
from storage.models import Person
from storage.operations import engagements
from tests.storage.seed import NOW, Cast

TEXT = b"Minutes of the parish council meeting\nItem 1: the car park\n"
BIG = 120_000  # bytes: over this a photo is "big" in these tests (a noise JPEG is)


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("1", size).save(out, "PNG")  # 12000 × 12000 in a few kB
    return out.getvalue()


def noisy_jpeg() -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (400, 400), os.urandom(400 * 400 * 3)).save(out, "JPEG", quality=95)
    return out.getvalue()


@pytest.fixture
async def setup(db, scheme, tmp_path):
    cast = await Cast.create(db, scheme)
    async with db.transaction() as s:
        await engagements.do_prenotify_engagement(
            s, scheme, title="Clun show", kind="Community event", place="Showground",
            starts_at=NOW - dt.timedelta(hours=5), ends_at=NOW - dt.timedelta(hours=2),
            after_the_fact=True, actor=await s.merge(cast.ambassador), now=NOW)
    processor = PhotoProcessor(MediaStore(tmp_path / "media"), workers=1, executor="thread")
    async with TelegramEmulator(token=TOKEN) as emu:
        bot = await RunningBot(emu, db, scheme, Clock(NOW),
                               media_intake=TelegramMedia(processor, big_file=BIG)).start()
        yield emu, bot, emu.user(cast.ambassador.telegram_id, "Ann")
        await bot.stop()
    await processor.aclose()


def with_buttons(ann) -> list:
    """The bot's messages that still carry buttons: a person sees only these to tap."""
    return [m for m in ann.bot_messages() if m.buttons]


def counters(ann) -> list:
    return [m for m in ann.bot_messages() if "Send the photos or video now" in (m.text or "")]


async def test_files_that_are_not_photos_are_refused_by_name_before_consent(setup, db) -> None:
    emu, bot, ann = setup
    await choose_engagement(ann)
    await ann.send_photo(jpeg_with_gps())
    await said(ann, "Received 1 so far")
    await ann.send_document(TEXT, "notes.txt", "text/plain")
    await said(ann, "⚠️ “notes.txt” isn't a photo (it looks like text). Please send a photo: "
               "JPEG, PNG, WebP or HEIC.")
    await ann.send_document(TEXT, "holiday.jpg", "image/jpeg")
    await said(ann, "⚠️ “holiday.jpg” isn't a photo (it looks like text).")
    await ann.send_document(png((12000, 12000)), "big.png", "image/png")
    await said(ann, "⚠️ “big.png” is too big to open (144 megapixels); the limit is 50 "
               "megapixels. Please send a smaller photo.")
    # Still at the photos: nothing counted but the good one, one set of buttons on screen.
    assert not any("Did everyone shown agree" in (m.text or "") for m in ann.bot_messages())
    [counter] = counters(ann)
    assert "Received 1 so far" in counter.text
    assert with_buttons(ann) == [counter]
    await ann.press("Done ✔")
    await said(ann, "Did everyone shown agree")
    await ann.press("Yes")
    await said(ann, "Are any children")
    await ann.press("No")
    await said(ann, "Anything the office should know")
    await ann.press("Skip ▶")
    summary = await said(ann, "please check")
    assert "• Photos or video: 1 item" in summary.text
    await ann.press("✅ Submit")
    done = await said(ann, "1 item sent to the office for review", timeout=20)
    assert "Not used" not in done.text
    assert len(await media_rows(db)) == 1


async def test_a_photo_with_no_name_is_called_by_its_place(setup, db) -> None:
    emu, bot, ann = setup
    await choose_engagement(ann)
    await ann.send_photo(jpeg_with_gps())
    await said(ann, "Received 1 so far")
    await ann.send_photo(b"\xff\xd8\xff\xe0" + b"\x00" * 200)  # a JPEG cut off after its start
    await said(ann, "⚠️ The 2nd photo couldn't be read: it may be damaged or only partly sent.")
    await ann.send_photo(jpeg_with_gps(colour=(10, 200, 10)))
    await said(ann, "Received 2 so far")


async def test_a_file_sent_first_is_refused_before_anything_is_counted(setup, db) -> None:
    emu, bot, ann = setup
    await choose_engagement(ann)
    await ann.send_document(b"%PDF-1.7\n...", "receipt.pdf", "application/pdf")
    await said(ann, "⚠️ “receipt.pdf” is a PDF document, not a photo.")
    await ann.press("Done ✔")
    await said(ann, "Please send at least one photo or video first.")


async def test_the_count_is_one_message_edited_with_one_set_of_buttons(setup) -> None:
    emu, bot, ann = setup
    await choose_engagement(ann)
    for n in range(1, 4):
        await ann.send_photo(jpeg_with_gps(colour=(n * 60, 10, 10)))
        await said(ann, f"Received {n} so far")
    [counter] = counters(ann)
    assert [line for text in counter.earlier + [counter.text]
            for line in text.splitlines() if "Received" in line] == [
        f"Received {n} so far. Send more, or tap Done." for n in (1, 2, 3)]
    assert with_buttons(ann) == [counter]
    assert sum("Done ✔" in text for m in ann.bot_messages()
               for row in m.buttons for text, _ in row) == 1


async def test_a_big_photo_says_it_is_still_being_checked(setup) -> None:
    emu, bot, ann = setup
    await choose_engagement(ann)
    await ann.send_photo(jpeg_with_gps())
    await said(ann, "Received 1 so far")
    big = noisy_jpeg()
    assert len(big) > BIG
    await ann.send_photo(big)
    await said(ann, "Received 2 so far")
    [counter] = counters(ann)
    assert any("Received 1 — the big one is still being checked…" in text
               for text in counter.earlier)


async def test_photos_are_offered_only_engagements_that_have_started(setup, db, scheme) -> None:
    """Tomorrow's engagement can have no photos yet: /photos does not offer it."""
    emu, bot, ann = setup
    async with db.transaction() as s:
        me = await s.scalar(select(Person).where(Person.telegram_id == ann.id))
        await engagements.do_prenotify_engagement(
            s, scheme, title="Bishop's Castle fete", kind="Community event", place="Square",
            starts_at=NOW + dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=1, hours=2),
            actor=me, now=NOW)
    await ann.send_command("/photos")
    asked = await said(ann, "Which engagement are they from?")
    offered = [text for row in asked.buttons for text, _ in row]
    assert any("Clun show" in b for b in offered)
    assert not any("Bishop's Castle fete" in b for b in offered)


async def test_with_no_engagement_started_photos_says_so(setup, db, scheme) -> None:
    """Someone whose only engagement is tomorrow is told why there is nothing to pick."""
    emu, bot, ann = setup
    async with db.transaction() as s:
        bob = await s.scalar(select(Person).where(Person.name == "Bob Hereford"))
        await engagements.do_prenotify_engagement(
            s, scheme, title="Kington fete", kind="Community event", place="Square",
            starts_at=NOW + dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=1, hours=2),
            actor=bob, now=NOW)
        telegram_id = bob.telegram_id
    bob_phone = emu.user(telegram_id, "Bob")
    await bob_phone.send_command("/photos")
    asked = await said(bob_phone, "None of your engagements has started yet, so there's "
                       "nothing to send photos of. Tap Cancel, and send them once it has begun.")
    assert [text for row in asked.buttons for text, _ in row] == ["✖ Cancel"]


def test_a_file_is_named_by_its_name_and_a_photo_by_its_place() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]
    assert subject({"file_name": "notes.txt"}, 2) == "“notes.txt”"
    assert subject({"kind": "photo"}, 2) == "The 2nd photo"
    assert subject({"kind": "video"}, 3) == "The 3rd video"


async def test_a_receipt_that_is_not_a_picture_is_refused_as_it_arrives(setup, db) -> None:
    """Expenses take the receipt through the same door: a text file is named and refused
    before the summary, and the claim goes with the photo sent after it."""
    from storage.models import ExpenseClaim
    emu, bot, ann = setup
    await ann.send_command("/expenses")
    await said(ann, "What kind of expense?")
    await ann.press("Travel")
    await said(ann, "Which day?")
    await ann.press("Today")
    await said(ann, "How much?")
    await ann.send_text("£12.50")
    await said(ann, "What was it for?")
    await ann.send_text("Train to the parish council")
    await said(ann, "photo of the receipt")
    await ann.send_document(TEXT, "receipt.txt", "text/plain")
    await said(ann, "⚠️ “receipt.txt” isn't a photo (it looks like text).")
    await ann.send_photo(jpeg_with_gps())
    await said(ann, "Received 1 so far")
    await ann.press("Done ✔")
    await said(ann, "please check")
    await ann.press("✅ Submit")
    await said(ann, "your claim of £12.50 is with the office")
    async with db.transaction() as s:
        [claim] = (await s.scalars(select(ExpenseClaim))).all()
    assert claim.receipt_path is not None
