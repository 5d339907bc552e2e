"""Receiving photos and videos from Telegram: download, then hand to the safe-media pipeline
(which runs off the event loop). Returns the fields of a Media record."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.error import TelegramError

from handlers.forms.engine import FormContext
from storage.errors import MediaRefused
from storage.media import PhotoProcessor, check_size_before_download

log = logging.getLogger(__name__)
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
