"""Photos and videos from ambassadors: refuse what is unusable, publish only safe copies.

- `pipeline`: pure processing, bytes in → safe JPEG + thumbnail out (`process_photo_bytes`);
- `store`: files on disk named by content hash, duplicates, retention and erasure;
- `pool`: `PhotoProcessor`, the async door the bot uses, running the work off the event loop.

No Telegram, Slack or database here: handlers and operations call these functions.
"""

from storage.media.pipeline import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    PhotoLimits,
    SafePhoto,
    check_photo_bytes,
    check_photo_header,
    check_size_before_download,
    content_hash,
    naming,
    process_photo_bytes,
)
from storage.media.pool import PhotoProcessor
from storage.media.store import MediaStore, ProcessedPhoto, RemovedFiles, StoredVideo

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "MediaStore",
    "PhotoLimits",
    "PhotoProcessor",
    "ProcessedPhoto",
    "RemovedFiles",
    "SafePhoto",
    "StoredVideo",
    "check_photo_bytes",
    "check_photo_header",
    "check_size_before_download",
    "content_hash",
    "naming",
    "process_photo_bytes",
]
