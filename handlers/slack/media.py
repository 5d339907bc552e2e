"""Receiving photos and videos from a Slack modal (the photos form's file input): ask Slack
for the file (files.info, so the bot token only ever goes to the address Slack gives), download
it with the bot token, and hand it to the same safe-media pipeline as Telegram (off the event
loop). Returns the fields of a Media record, or refuses with a sentence."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.forms.engine import FormContext
from storage.errors import MediaRefused
from storage.media import PhotoProcessor, check_size_before_download
from storage.media.pipeline import too_large_sentence

log = logging.getLogger(__name__)
FETCH_FAILED = "I couldn't fetch that file from Slack. Please attach it again."
NOT_MEDIA = "That file isn't a photo or a video, so it wasn't used."
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=60)

Intake = Callable[[FormContext, dict[str, Any]], Awaitable[dict[str, Any]]]


def slack_media_intake(processor: PhotoProcessor, client: AsyncWebClient,
                       session: aiohttp.ClientSession | None = None) -> Intake:
    """`item` is what the modal's file input held for one file: {"slack_file_id": …}."""

    async def download(url: str, limit: int, kind: str) -> bytes:
        headers = {"Authorization": f"Bearer {client.token}"}
        own = session is None
        http = aiohttp.ClientSession() if own else session
        try:
            async with http.get(url, headers=headers, timeout=DOWNLOAD_TIMEOUT) as response:
                if response.status != 200:
                    log.warning("slack file download failed: HTTP %s", response.status)
                    raise MediaRefused(FETCH_FAILED)
                data = await response.content.read(limit + 1)
                if len(data) > limit:
                    raise MediaRefused(too_large_sentence(kind, len(data), limit))
                return data
        except aiohttp.ClientError as error:
            log.warning("slack file download failed: %s", type(error).__name__)
            raise MediaRefused(FETCH_FAILED) from None
        finally:
            if own:
                await http.close()

    async def intake(ctx: FormContext, item: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = await client.files_info(file=item["slack_file_id"])
        except SlackApiError as error:
            log.warning("slack files.info failed: %s", error.response.get("error"))
            raise MediaRefused(FETCH_FAILED) from None
        file = answer.get("file") or {}
        mimetype = str(file.get("mimetype") or "")
        kind = "video" if mimetype.startswith("video/") else "photo"
        if kind == "photo" and mimetype and not mimetype.startswith("image/"):
            raise MediaRefused(NOT_MEDIA)
        limit = processor.limits.max_bytes
        check_size_before_download(file.get("size"), max_bytes=limit, kind=kind)
        url = file.get("url_private_download") or file.get("url_private")
        if not url:
            raise MediaRefused(FETCH_FAILED)
        data = await download(str(url), limit, kind)
        if kind == "video":
            video = await processor.store_video(data, None, None)
            return {"kind": "video", "content_hash": video.content_hash,
                    "safe_path": str(video.path), "size_bytes": video.size_bytes,
                    "thumb_path": str(video.thumb_path) if video.thumb_path else None}
        photo = await processor.process(data, file.get("name"))
        return {"kind": "photo", "content_hash": photo.content_hash,
                "safe_path": str(photo.safe_path), "thumb_path": str(photo.thumb_path),
                "width": photo.width, "height": photo.height, "size_bytes": photo.bytes_in}

    return intake
