"""Media files on disk, named by content hash (DESIGN §3 Media, §9 retention and erasure).

Layout under the media root (`ab` is the first two hex digits of the hash, so no directory
grows past a few thousand files)::

    photos/ab/<hash>.jpg        the safe, publishable copy (1,600 px, no metadata)
    thumbs/ab/<hash>.jpg        its 320 px thumbnail
    originals/ab/<hash>.<ext>   what the ambassador sent, only if the scheme keeps originals
    videos/ab/<hash>.<ext>      a video as sent (not re-encoded: metadata intact, see StoredVideo)
    video-thumbs/ab/<hash>.jpg  Telegram's thumbnail for it, re-encoded without metadata

Originals are written only when the scheme keeps them: the issue's "stored, then deleted
after processing" has the same outcome without writing up to 20 MB per photo and deleting it.

Every write goes to a temporary file in the same directory and is renamed into place, so a
reader never sees half a file and two workers storing the same photo at once are harmless.
A photo that is already stored is not decoded again; its files' times are refreshed, so
retention by age counts from the last time anyone sent it.

All methods are blocking file I/O: call them from `storage.media.pool` or a thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image

from storage.errors import MediaRefused
from storage.media.pipeline import (
    DEFAULT_MAX_BYTES,
    PhotoLimits,
    check_photo_bytes,
    content_hash,
    encode_jpeg,
    process_photo_bytes,
    ftyp_is_still_image,
    render_rgb,
    too_large_sentence,
)

log = logging.getLogger(__name__)

PHOTOS, THUMBS, ORIGINALS, VIDEOS, VIDEO_THUMBS = (
    "photos", "thumbs", "originals", "videos", "video-thumbs")
KINDS = (PHOTOS, THUMBS, ORIGINALS, VIDEOS, VIDEO_THUMBS)
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "HEIF": ".heic"}
_HASH = re.compile(r"[0-9a-f]{64}")
_TEMP_PREFIX = ".tmp-"
VIDEO_REVIEW_NOTE = ("Stored as sent, not re-encoded: it may still carry the phone's "
                     "location and other details. Check before publishing.")


@dataclass(frozen=True)
class ProcessedPhoto:
    """A stored photo: what the Media record needs (the safe copy is what gets published)."""

    content_hash: str
    width: int
    height: int
    safe_path: Path
    thumb_path: Path
    original_path: Path | None
    bytes_in: int
    format: str
    duplicate: bool
    safe_bytes: int = 0


@dataclass(frozen=True)
class StoredVideo:
    """A stored video: kept as sent, with the Bot API file id, always for an officer's review."""

    content_hash: str
    file_id: str | None
    path: Path
    thumb_path: Path | None
    size_bytes: int
    container: str
    duplicate: bool
    needs_review: bool = True
    review_note: str = VIDEO_REVIEW_NOTE


@dataclass
class RemovedFiles:
    """What a retention run or an erasure deleted, for its report."""

    paths: list[Path] = field(default_factory=list)
    bytes_freed: int = 0

    def __len__(self) -> int:
        return len(self.paths)


class MediaStore:
    """Files under `root`, named by hash. Picklable: worker processes get their own copy."""

    def __init__(self, root: Path, keep_originals: bool = False) -> None:
        self.root = Path(root)
        self.keep_originals = keep_originals

    def __repr__(self) -> str:
        return f"MediaStore({str(self.root)!r}, keep_originals={self.keep_originals})"

    # -- paths ---------------------------------------------------------------------------------

    def path(self, kind: str, content_hash: str, suffix: str = ".jpg") -> Path:
        """Where the file of this kind and hash lives (whether or not it exists)."""
        if kind not in KINDS:
            raise ValueError(f"unknown media kind {kind!r}")
        return self.root / kind / _checked_hash(content_hash)[:2] / f"{content_hash}{suffix}"

    def files_of(self, content_hash: str) -> list[Path]:
        """Every file stored for this hash (for a subject-access export or an erasure)."""
        found = []
        for kind in KINDS:
            shard = self.path(kind, content_hash).parent
            found.extend(sorted(shard.glob(f"{content_hash}.*")))
        return found

    # -- photos --------------------------------------------------------------------------------

    def find_photo(self, content_hash: str, *, bytes_in: int = 0,
                   fmt: str = "") -> ProcessedPhoto | None:
        """The stored photo with this hash, or None. Reads only the safe copy's header."""
        safe, thumb = self.path(PHOTOS, content_hash), self.path(THUMBS, content_hash)
        try:
            with Image.open(safe, formats=["JPEG"]) as im:
                width, height = im.size
            safe_bytes = safe.stat().st_size
            if not thumb.is_file():
                return None
        except (OSError, ValueError, SyntaxError):  # missing, or damaged on disk: redo it
            return None
        original = self._original_of(content_hash)
        return ProcessedPhoto(content_hash=content_hash, width=width, height=height,
                              safe_path=safe, thumb_path=thumb, original_path=original,
                              bytes_in=bytes_in, format=fmt, duplicate=True,
                              safe_bytes=safe_bytes)

    def add_photo(self, data: bytes, limits: PhotoLimits = PhotoLimits()) -> ProcessedPhoto:
        """Refuse, or store the safe copy and thumbnail (and the original if kept).

        The same bytes a second time are not decoded again: `duplicate=True`, same paths.
        """
        fmt = check_photo_bytes(data, max_bytes=limits.max_bytes)
        digest = content_hash(data)
        existing = self.find_photo(digest, bytes_in=len(data), fmt=fmt)
        if existing is not None:
            self._touch(existing.safe_path, existing.thumb_path)
            if self.keep_originals and existing.original_path is None:
                original = self._write(self.path(ORIGINALS, digest, _EXTENSIONS[fmt]), data)
                return replace(existing, original_path=original)
            return existing
        safe = process_photo_bytes(data, limits, known_hash=digest)
        original = None
        if self.keep_originals:
            original = self._write(self.path(ORIGINALS, digest, _EXTENSIONS[fmt]), data)
        # Thumbnail first: find_photo() treats the safe copy's presence as "done".
        thumb_path = self._write(self.path(THUMBS, digest), safe.thumb)
        safe_path = self._write(self.path(PHOTOS, digest), safe.jpeg)
        return ProcessedPhoto(content_hash=digest, width=safe.width, height=safe.height,
                              safe_path=safe_path, thumb_path=thumb_path,
                              original_path=original, bytes_in=len(data), format=fmt,
                              duplicate=False, safe_bytes=len(safe.jpeg))

    def delete_original(self, content_hash: str) -> RemovedFiles:
        """Remove only the original (e.g. once an officer has approved the safe copy)."""
        removed = RemovedFiles()
        original = self._original_of(content_hash)
        if original is not None:
            _unlink(original, removed)
        return removed

    # -- video ---------------------------------------------------------------------------------

    def store_video(self, data: bytes, thumb: bytes | None, file_id: str | None, *,
                    max_bytes: int = DEFAULT_MAX_BYTES,
                    limits: PhotoLimits = PhotoLimits()) -> StoredVideo:
        """Keep a video as sent (no re-encoding) with its Telegram thumbnail; refuse if unusable.

        The thumbnail is optional: a missing or unreadable one never costs the video.
        """
        if not data:
            raise MediaRefused("That video arrived empty (0 bytes). Please send it again.")
        if len(data) > max_bytes:
            raise MediaRefused(too_large_sentence("video", len(data), max_bytes))
        container, suffix = sniff_video_container(data[:64])
        digest = content_hash(data)
        path = self.path(VIDEOS, digest, suffix)
        duplicate = path.is_file() and path.stat().st_size == len(data)
        if duplicate:
            self._touch(path)
        else:
            self._write(path, data)
        thumb_path = self._store_video_thumb(digest, thumb, limits)
        return StoredVideo(content_hash=digest, file_id=file_id, path=path,
                           thumb_path=thumb_path, size_bytes=len(data), container=container,
                           duplicate=duplicate)

    def _store_video_thumb(self, digest: str, thumb: bytes | None,
                           limits: PhotoLimits) -> Path | None:
        path = self.path(VIDEO_THUMBS, digest)
        if path.is_file():
            self._touch(path)
            return path
        if not thumb:
            return None
        try:
            fmt = check_photo_bytes(thumb, max_bytes=limits.max_bytes)
            image = render_rgb(thumb, fmt, limits, long_edge=limits.thumb_edge)
        except MediaRefused as exc:
            log.info("video %s: thumbnail not usable (%s); storing the video without it",
                     digest[:12], exc.sentence)
            return None
        return self._write(path, encode_jpeg(image, limits.quality))

    # -- retention and erasure -----------------------------------------------------------------

    def delete(self, content_hash: str) -> RemovedFiles:
        """Remove every file of this hash (erasure, or a Media record past retention)."""
        removed = RemovedFiles()
        for path in self.files_of(content_hash):
            _unlink(path, removed)
        return removed

    def delete_older_than(self, cutoff: dt.datetime) -> RemovedFiles:
        """Remove files last stored before `cutoff` (an aware datetime), and stale temp files.

        "Last stored": sending the same photo again refreshes its files' times.
        """
        if cutoff.tzinfo is None:
            raise ValueError("cutoff must be timezone-aware (UTC)")
        limit = cutoff.timestamp()
        removed = RemovedFiles()
        for kind in KINDS:
            top = self.root / kind
            if not top.is_dir():
                continue
            for shard in sorted(top.iterdir()):
                if not shard.is_dir():
                    continue
                for entry in os.scandir(shard):
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < limit:
                        _unlink(Path(entry.path), removed)
        log.info("media retention: removed %d files (%d bytes) last stored before %s",
                 len(removed), removed.bytes_freed, cutoff.isoformat())
        return removed

    # -- helpers -------------------------------------------------------------------------------

    def _original_of(self, content_hash: str) -> Path | None:
        shard = self.path(ORIGINALS, content_hash).parent
        return next(iter(sorted(shard.glob(f"{content_hash}.*"))), None)

    def _write(self, path: Path, data: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return path

    @staticmethod
    def _touch(*paths: Path) -> None:
        for path in paths:
            try:
                os.utime(path)
            except FileNotFoundError:  # removed by retention a moment ago; harmless
                pass


def sniff_video_container(head: bytes) -> tuple[str, str]:
    """(container name, file suffix) for a video, or a refusal saying what it is instead."""
    if head[4:8] == b"ftyp":
        if ftyp_is_still_image(head):
            raise MediaRefused("That's a photo, not a video. Please send it as a photo.")
        brand = head[8:12]
        if brand == b"qt  ":
            return "QuickTime", ".mov"
        if brand.startswith(b"3g"):
            return "3GP", ".3gp"
        return "MP4", ".mp4"
    if head[:4] == b"\x1aE\xdf\xa3":
        return ("WebM", ".webm") if b"webm" in head else ("Matroska", ".mkv")
    if head[:4] == b"RIFF" and head[8:11] == b"AVI":
        return "AVI", ".avi"
    raise MediaRefused("That file doesn't look like a video the office can use. "
                       "Please send it as a video (MP4 or MOV).")


def _checked_hash(content_hash: str) -> str:
    # Hashes come from our own records, but a path built from a string must never climb out.
    if not _HASH.fullmatch(content_hash):
        raise ValueError("a content hash is 64 lowercase hex digits")
    return content_hash


def _unlink(path: Path, removed: RemovedFiles) -> None:
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return
    removed.paths.append(path)
    removed.bytes_freed += size
