"""Receiving photos and videos from Telegram: download, then hand to the safe-media pipeline
(which runs off the event loop), which gives the fields of a Media record; and acknowledging
an album once, with its true count (`AlbumAcknowledgements`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.error import TelegramError

from handlers.forms.engine import FormContext
from storage.errors import MediaRefused
from storage.media import PhotoProcessor, check_size_before_download

log = logging.getLogger(__name__)
# How long an album may pause between its photos and still be one album. Telegram delivers
# an album's photos as separate updates, a few milliseconds apart but perhaps in separate
# polls or webhook calls, and never says how many there are.
ALBUM_QUIET = 0.6
FETCH_FAILED = "I couldn't fetch that file from Telegram. Please send it again."
# Over this, fetching and checking a file takes long enough on a phone's connection that the
# counter says one is still being checked.
BIG_FILE = 4 * 1024 * 1024

async def _download(ctx: FormContext, file_id: str) -> bytes:
    try:
        file = await ctx.services["bot"].get_file(file_id)
        return bytes(await file.download_as_bytearray())
    except TelegramError as error:
        log.warning("media download failed: %s", type(error).__name__)
        raise MediaRefused(FETCH_FAILED) from None


class TelegramMedia:
    """Photos and videos from Telegram. Called with an item, it gives the Media record's
    fields (or a refusal) when the form is submitted; `check` refuses, as the item arrives,
    what can be told from its announced size and its header alone, so a text file or a
    picture too big to open is named while the person is still sending, not after Submit."""

    def __init__(self, processor: PhotoProcessor, *, big_file: int = BIG_FILE) -> None:
        self.processor = processor
        self.big_file = big_file

    def is_big(self, item: dict[str, Any]) -> bool:
        """Worth a word while it is checked (it takes a moment to fetch)."""
        return (item.get("file_size") or 0) > self.big_file

    async def check(self, ctx: FormContext, item: dict[str, Any]) -> None:
        """Raises `MediaRefused`; the full check runs again at Submit (`__call__`)."""
        video = item.get("kind") == "video"
        check_size_before_download(item.get("file_size"),
                                   max_bytes=self.processor.limits.max_bytes,
                                   kind="video" if video else "photo")
        if not video:
            await self.processor.check_header(await _download(ctx, item["file_id"]))

    async def __call__(self, ctx: FormContext, item: dict[str, Any]) -> dict[str, Any]:
        """One photo or video of the submission → the Media record's fields (or a refusal)."""
        processor = self.processor
        # Refuse what is too big before downloading it (Telegram won't serve it anyway).
        check_size_before_download(item.get("file_size"), max_bytes=processor.limits.max_bytes,
                                   kind="video" if item.get("kind") == "video" else "photo")
        data = await _download(ctx, item["file_id"])
        common = {"telegram_file_id": item["file_id"], "album_key": item.get("album")}
        if item.get("kind") == "video":
            thumb = await _download(ctx, item["thumb_file_id"]) if item.get("thumb_file_id") \
                else None
            video = await processor.store_video(data, thumb, item["file_id"])
            return {**common, "kind": "video", "content_hash": video.content_hash,
                    "safe_path": str(video.path), "size_bytes": video.size_bytes,
                    "thumb_path": str(video.thumb_path) if video.thumb_path else None}
        photo = await processor.process(data, item.get("file_name"))
        return {**common, "kind": "photo", "content_hash": photo.content_hash,
                "safe_path": str(photo.safe_path), "thumb_path": str(photo.thumb_path),
                "width": photo.width, "height": photo.height, "size_bytes": photo.bytes_in}


def telegram_media_intake(processor: PhotoProcessor) -> TelegramMedia:
    return TelegramMedia(processor)


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10,
                                                                                 "th")
    return f"{number}{suffix}"


def subject(item: dict[str, Any], number: int) -> str:
    """How a refusal names the item: its file name, or "The 2nd photo" when Telegram gives
    none (a photo sent as a photo has no name). `number`: its place among those sent."""
    if item.get("file_name"):
        return f"“{item['file_name']}”"
    return f"The {ordinal(number)} {'video' if item.get('kind') == 'video' else 'photo'}"


class AlbumAcknowledgements:
    """An album is acknowledged once, with its true count: each of its photos (one update
    each) puts off the chat's acknowledgement until no photo has come for `quiet` seconds;
    then the question is asked again from the draft as it stands, saying how many were
    received. A photo sent alone is acknowledged at once and takes the place of an album's
    acknowledgement still waiting (it counts the album too). If the form moved on meanwhile
    (Done pressed, cancelled), nothing is sent. At most one waits per chat.

    `create_task` is the Application's, so a stopping bot finishes (or cancels) the waits."""

    def __init__(self, create_task: Callable[[Awaitable[Any]], asyncio.Task[Any]],
                 quiet: float = ALBUM_QUIET) -> None:
        self.create_task = create_task
        self.quiet = quiet
        self._waiting: dict[int, asyncio.Task[Any]] = {}
        # The message each chat's photo question is in, (form, seq, message id): the count
        # is edited into it, so one set of Done/Back/Cancel stays on screen however many come.
        # Kept in memory only: after a restart the question is simply sent again.
        self._counters: dict[int, tuple[str, int, int]] = {}

    def counter_sent(self, chat_id: int, form: str, seq: int, message_id: int) -> None:
        self._counters[chat_id] = (form, seq, message_id)

    def counter(self, chat_id: int, form: str, seq: int) -> int | None:
        """The message to edit the count into, while the question is the same one."""
        kept = self._counters.get(chat_id)
        return kept[2] if kept is not None and kept[:2] == (form, seq) else None

    def photo_taken(self, chat_id: int, album: str | None,
                    acknowledge: Callable[[], Awaitable[None]]) -> bool:
        """True when the acknowledgement was put off (an album's photo); False when the
        caller acknowledges now."""
        waiting = self._waiting.pop(chat_id, None)
        if waiting is not None:
            waiting.cancel()
        if album is None:
            return False
        self._waiting[chat_id] = self.create_task(self._later(chat_id, acknowledge))
        return True

    async def _later(self, chat_id: int, acknowledge: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(self.quiet)
        # From here on the acknowledgement is sent whatever arrives: a photo coming now
        # schedules its own rather than cancelling one half sent.
        if self._waiting.get(chat_id) is asyncio.current_task():
            del self._waiting[chat_id]
        try:
            await acknowledge()
        except TelegramError as error:
            log.warning("album acknowledgement not sent: %s", type(error).__name__)


def albums_of(application: Any) -> AlbumAcknowledgements:
    """The Application's one set of album acknowledgements."""
    albums = application.bot_data.get("albums")
    if albums is None:
        albums = application.bot_data["albums"] = AlbumAcknowledgements(application.create_task)
    return albums
