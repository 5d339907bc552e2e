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

Intake = Callable[[FormContext, dict[str, Any]], Awaitable[dict[str, Any]]]


def telegram_media_intake(processor: PhotoProcessor) -> Intake:
    async def download(ctx: FormContext, file_id: str) -> bytes:
        try:
            file = await ctx.services["bot"].get_file(file_id)
            return bytes(await file.download_as_bytearray())
        except TelegramError as error:
            log.warning("media download failed: %s", type(error).__name__)
            raise MediaRefused(FETCH_FAILED) from None

    async def intake(ctx: FormContext, item: dict[str, Any]) -> dict[str, Any]:
        """One photo or video of the submission → the Media record's fields (or a refusal)."""
        # Refuse what is too big before downloading it (Telegram won't serve it anyway).
        check_size_before_download(item.get("file_size"), max_bytes=processor.limits.max_bytes,
                                   kind="video" if item.get("kind") == "video" else "photo")
        data = await download(ctx, item["file_id"])
        common = {"telegram_file_id": item["file_id"], "album_key": item.get("album")}
        if item.get("kind") == "video":
            thumb = await download(ctx, item["thumb_file_id"]) if item.get("thumb_file_id") \
                else None
            video = await processor.store_video(data, thumb, item["file_id"])
            return {**common, "kind": "video", "content_hash": video.content_hash,
                    "safe_path": str(video.path), "size_bytes": video.size_bytes,
                    "thumb_path": str(video.thumb_path) if video.thumb_path else None}
        photo = await processor.process(data, item.get("file_name"))
        return {**common, "kind": "photo", "content_hash": photo.content_hash,
                "safe_path": str(photo.safe_path), "thumb_path": str(photo.thumb_path),
                "width": photo.width, "height": photo.height, "size_bytes": photo.bytes_in}

    return intake


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
