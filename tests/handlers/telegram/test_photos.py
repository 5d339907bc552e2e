"""Photos and video from a phone: one photo, an album (one consent question, not ten), a
photo sent as a file, a hostile file — stored safe (no location), recorded for review."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image
from sqlalchemy import select

from bot.emulators.telegram import TelegramEmulator
from handlers.telegram.media import telegram_media_intake
from storage.media import MediaStore, PhotoProcessor
from storage.models import Media, Outbox
from storage.operations import engagements
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, buttons, said
from tests.storage.seed import NOW, Cast


def jpeg_with_gps(size=(1200, 900), colour=(200, 40, 40)) -> bytes:
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° to display
    gps = {1: "N", 2: (52.0, 22.0, 1.0), 3: "W", 4: (2.0, 43.0, 5.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
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
                               media_intake=telegram_media_intake(processor)).start()
        yield emu, bot, emu.user(cast.ambassador.telegram_id, "Ann"), tmp_path / "media"
        await bot.stop()
    await processor.aclose()


async def choose_engagement(ann) -> None:
    await ann.send_command("/photos")
    await said(ann, "Which engagement are they from?")
    await ann.press(next(b for b in buttons(ann.last_bot_message) if "Clun show" in b))
    await said(ann, "Send the photos or video now")


async def media_rows(db):
    async with db.transaction() as s:
        return (await s.scalars(select(Media).order_by(Media.id))).all()


async def test_an_album_gets_one_consent_question_and_is_stored_safe(setup, db) -> None:
    emu, bot, ann, root = setup
    await choose_engagement(ann)
    await ann.send_album([jpeg_with_gps(colour=(i * 60, 10, 10)) for i in range(3)])
    await said(ann, "Received 3 so far")  # once, for the whole album (tests/…/test_albums.py)
    await ann.press("Done ✔")
    consent = await said(ann, "Did everyone shown agree")
    assert buttons(consent)[:2] == ["Yes", "No"]
    assert sum("Did everyone shown agree" in (m.text or "") for m in ann.bot_messages()) == 1
    await ann.press("Yes")
    await said(ann, "Are any children")
    await ann.press("No")
    await said(ann, "Anything the office should know")
    await ann.press("Skip ▶")
    summary = await said(ann, "please check")
    assert "• Photos or video: 3 items" in summary.text
    await ann.press("✅ Submit")
    await said(ann, "3 items sent to the office for review", timeout=20)
    rows = await media_rows(db)
    assert len(rows) == 3 and all(r.consent_given and not r.children_present for r in rows)
    for row in rows:
        with Image.open(row.safe_path) as safe:
            assert safe.getexif() == {} or len(safe.getexif()) == 0
            assert safe.height > safe.width  # orientation 6 applied: portrait
        assert b"\xff\xe1" not in open(row.safe_path, "rb").read()[:64_000]
    async with db.transaction() as s:
        posts = (await s.scalars(select(Outbox).where(Outbox.event == "media_received"))).all()
    assert len(posts) == 3 and posts[0].destination == "#ambassador-media"


async def test_a_damaged_file_is_named_and_the_good_one_kept(setup, db) -> None:
    emu, bot, ann, root = setup
    await choose_engagement(ann)
    await ann.send_photo(jpeg_with_gps())
    await said(ann, "Received 1 so far")
    await ann.send_document(b"this is not a photo at all", "holiday.jpg", "image/jpeg")
    await said(ann, "“holiday.jpg” isn't a photo")  # as it arrives (test_photos_on_arrival.py)
    await ann.press("Done ✔")
    await said(ann, "Did everyone shown agree")
    await ann.press("Yes")
    await said(ann, "Are any children")
    await ann.press("Yes")
    await said(ann, "Anything the office should know")
    await ann.send_text("Taken at the dog show")
    await said(ann, "please check")
    await ann.press("✅ Submit")
    done = await said(ann, "1 item sent to the office for review", timeout=20)
    assert "Not used" not in done.text
    [row] = await media_rows(db)
    assert row.children_present and row.caption == "Taken at the dog show"


async def test_a_sticker_instead_of_a_photo_is_explained(setup, db) -> None:
    emu, bot, ann, root = setup
    await choose_engagement(ann)
    await ann.send_sticker()
    await said(ann, "I can't use a sticker here")
    await ann.press("Done ✔")
    await said(ann, "Please send at least one photo or video first.")
    assert await media_rows(db) == []


async def test_expenses_with_a_receipt_and_mileage(setup, db) -> None:
    from storage.models import ExpenseClaim
    emu, bot, ann, root = setup
    await ann.send_command("/expenses")
    await said(ann, "What kind of expense?")
    await ann.press("Travel")
    await said(ann, "Which day?")
    await ann.press("Today")
    await said(ann, "How much?")
    await ann.send_text("£12.50")
    await said(ann, "What was it for?")
    await ann.send_text("Train to Ludlow for the parish council")
    await said(ann, "photo of the receipt")
    await ann.send_photo(jpeg_with_gps())
    await said(ann, "Received 1 so far")
    await ann.press("Done ✔")
    await said(ann, "please check")
    await ann.press("✅ Submit")
    await said(ann, "your claim of £12.50 is with the office")
    await ann.send_command("/expenses")
    await said(ann, "What kind of expense?")
    await ann.press("Mileage")
    await said(ann, "Which day?")
    await ann.send_text("yesterday")
    await said(ann, "How many miles")
    await ann.send_text("twelve")
    await said(ann, "How many miles")
    await ann.send_text("12.3")
    await said(ann, "What was it for?")
    await ann.send_text("To Clun")
    summary = await said(ann, "please check")
    assert "• Miles: 12.3 miles" in summary.text
    await ann.press("✅ Submit")
    await said(ann, "your claim of £5.54 is with the office")
    async with db.transaction() as s:
        claims = (await s.scalars(select(ExpenseClaim).order_by(ExpenseClaim.id))).all()
    assert [(c.kind, c.amount_pence, c.receipt_file_id is not None) for c in claims] == [
        ("travel", 1250, True), ("mileage", 554, False)]
