"""Media files on disk: named by hash, stored once, originals only when kept, retention, video."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image

import storage.media.store as store_module
from storage.errors import MediaRefused
from storage.media.pipeline import MIB, PhotoLimits, content_hash
from storage.media.store import MediaStore
from tests.storage.test_media_samples import (
    assert_safe_jpeg,
    heic,
    phone_jpeg,
    png_bomb,
    truncated,
)

MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00\x00\x00\x08free" * 50
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + bytes(400)


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def age(paths: list[Path], days: int) -> None:
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).timestamp()
    for path in paths:
        os.utime(path, (stamp, stamp))


def test_photo_is_stored_by_hash_and_the_original_is_not_kept(tmp_path: Path) -> None:
    data = phone_jpeg()
    photo = MediaStore(tmp_path).add_photo(data)
    digest = content_hash(data)
    assert photo.content_hash == digest and not photo.duplicate
    assert photo.safe_path == tmp_path / "photos" / digest[:2] / f"{digest}.jpg"
    assert photo.thumb_path == tmp_path / "thumbs" / digest[:2] / f"{digest}.jpg"
    assert photo.original_path is None
    assert all_files(tmp_path) == sorted([photo.safe_path, photo.thumb_path])
    assert_safe_jpeg(photo.safe_path.read_bytes(), (photo.width, photo.height))
    assert_safe_jpeg(photo.thumb_path.read_bytes())
    assert photo.safe_bytes == photo.safe_path.stat().st_size


def test_original_is_kept_when_the_scheme_says_so(tmp_path: Path) -> None:
    data = heic(64, 48)
    photo = MediaStore(tmp_path, keep_originals=True).add_photo(data)
    assert photo.original_path is not None and photo.original_path.suffix == ".heic"
    assert photo.original_path.read_bytes() == data


def test_same_photo_twice_is_stored_once_and_not_decoded_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, data = MediaStore(tmp_path), phone_jpeg()
    first = store.add_photo(data)
    age([first.safe_path, first.thumb_path], days=10)
    files = all_files(tmp_path)

    def must_not_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("a stored photo was decoded again")
    monkeypatch.setattr(store_module, "process_photo_bytes", must_not_decode)
    second = store.add_photo(data)

    assert second.duplicate and not first.duplicate
    assert (second.safe_path, second.thumb_path, second.width, second.height) == (
        first.safe_path, first.thumb_path, first.width, first.height)
    assert (second.bytes_in, second.format) == (len(data), "JPEG")
    assert all_files(tmp_path) == files
    # Retention counts from the last time it was sent.
    assert first.safe_path.stat().st_mtime > dt.datetime.now().timestamp() - 60


def test_duplicate_gets_its_original_when_originals_are_now_kept(tmp_path: Path) -> None:
    data = phone_jpeg()
    MediaStore(tmp_path).add_photo(data)
    again = MediaStore(tmp_path, keep_originals=True).add_photo(data)
    assert again.duplicate and again.original_path is not None
    assert again.original_path.read_bytes() == data


def test_damaged_stored_copy_is_made_again(tmp_path: Path) -> None:
    store, data = MediaStore(tmp_path), phone_jpeg()
    first = store.add_photo(data)
    first.safe_path.write_bytes(b"\xff\xd8\xff garbage")
    again = store.add_photo(data)
    assert not again.duplicate
    assert_safe_jpeg(again.safe_path.read_bytes(), (first.width, first.height))


@pytest.mark.parametrize("data", [b"", b"hello", truncated(phone_jpeg()), png_bomb(9000, 9000)],
                         ids=["empty", "text", "truncated", "81 MP"])
def test_refused_photo_leaves_nothing_behind(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(MediaRefused):
        MediaStore(tmp_path, keep_originals=True).add_photo(data)
    assert all_files(tmp_path) == []


def test_delete_removes_every_file_of_one_hash(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, keep_originals=True)
    gone = store.add_photo(phone_jpeg(orientation=1))
    kept = store.add_photo(phone_jpeg(orientation=6))
    files = store.files_of(gone.content_hash)
    assert len(files) == 3
    removed = store.delete(gone.content_hash)
    assert sorted(removed.paths) == sorted(files)
    assert removed.bytes_freed > 0 and not any(p.exists() for p in files)
    assert len(store.files_of(kept.content_hash)) == 3
    assert len(store.delete(gone.content_hash)) == 0  # twice is harmless


def test_delete_original_keeps_the_safe_copy(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, keep_originals=True)
    photo = store.add_photo(phone_jpeg())
    assert store.delete_original(photo.content_hash).paths == [photo.original_path]
    assert photo.safe_path.exists() and photo.thumb_path.exists()


def test_retention_removes_files_older_than_the_cutoff(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, keep_originals=True)
    old = store.add_photo(phone_jpeg(orientation=1))
    new = store.add_photo(phone_jpeg(orientation=6))
    video = store.store_video(MP4, phone_jpeg(64, 48), "file-1")
    old_files = store.files_of(old.content_hash) + store.files_of(video.content_hash)
    age(old_files, days=400)
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
    removed = store.delete_older_than(cutoff)
    assert sorted(removed.paths) == sorted(old_files) and len(removed) == 5
    assert all(p.exists() for p in store.files_of(new.content_hash))
    with pytest.raises(ValueError, match="timezone-aware"):
        store.delete_older_than(dt.datetime(2020, 1, 1))


def test_hash_must_be_a_hash(tmp_path: Path) -> None:
    """Paths are built from hashes; nothing else may reach the file system."""
    for bad in ("../../etc/passwd", "A" * 64, "ab", ""):
        with pytest.raises(ValueError):
            MediaStore(tmp_path).delete(bad)


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, keep_originals=True)
    store.add_photo(phone_jpeg())
    store.store_video(MP4, None, "x")
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_store_is_picklable_for_worker_processes(tmp_path: Path) -> None:
    import pickle
    store = pickle.loads(pickle.dumps(MediaStore(tmp_path, keep_originals=True)))
    assert store.root == tmp_path and store.keep_originals


# -- video -------------------------------------------------------------------------------------


def test_video_is_kept_as_sent_with_a_clean_thumbnail(tmp_path: Path) -> None:
    thumb = phone_jpeg(320, 180, orientation=1)
    video = MediaStore(tmp_path).store_video(MP4, thumb, "BAACAgQAAxkBAAI")
    assert video.path.read_bytes() == MP4 and video.path.suffix == ".mp4"
    assert video.file_id == "BAACAgQAAxkBAAI" and video.container == "MP4"
    assert video.needs_review and "location" in video.review_note
    assert video.size_bytes == len(MP4) and not video.duplicate
    assert video.thumb_path is not None
    assert_safe_jpeg(video.thumb_path.read_bytes(), (320, 180))


def test_same_video_twice_is_stored_once(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    first = store.store_video(MOV, None, "a")
    second = store.store_video(MOV, None, "b")
    assert second.duplicate and second.path == first.path and first.path.suffix == ".mov"
    assert second.file_id == "b" and len(all_files(tmp_path)) == 1


def test_unusable_thumbnail_never_costs_the_video(tmp_path: Path) -> None:
    video = MediaStore(tmp_path).store_video(MP4, b"not a jpeg", "x")
    assert video.thumb_path is None and video.path.exists()


@pytest.mark.parametrize(("data", "words"), [
    (b"", "arrived empty"),
    (b"\x00\x00\x00\x20ftyp" + bytes(21 * MIB - 8), "too large to use (21 MB); the limit is 20 MB"),
    (b"just some text, not a video", "doesn't look like a video"),
    (phone_jpeg(), "doesn't look like a video"),
    (heic(32, 32), "That's a photo, not a video"),
])
def test_video_refusals(tmp_path: Path, data: bytes, words: str) -> None:
    with pytest.raises(MediaRefused, match=re.escape(words)):
        MediaStore(tmp_path).store_video(data, None, "x")
    assert all_files(tmp_path) == []


def test_video_limit_is_configurable(tmp_path: Path) -> None:
    with pytest.raises(MediaRefused, match="limit is 0.5 MB"):
        MediaStore(tmp_path).store_video(MP4 + bytes(MIB), None, "x", max_bytes=MIB // 2)


def test_find_photo_reads_dimensions_from_the_stored_copy(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    photo = store.add_photo(phone_jpeg(), PhotoLimits(long_edge=100))
    found = store.find_photo(photo.content_hash)
    assert found is not None and (found.width, found.height) == (75, 100)
    assert Image.open(io.BytesIO(found.safe_path.read_bytes())).size == (75, 100)
    assert store.find_photo("0" * 64) is None
