"""PhotoProcessor: the work happens in worker processes, the event loop stays responsive,
and every outcome is a stored photo or a sentence, even when a worker dies."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from PIL import Image

from storage.errors import MediaRefused
from storage.media import MediaStore, PhotoProcessor, ProcessedPhoto, process_photo_bytes
from storage.media.pool import BUSY_SENTENCE, FAILED_SENTENCE, SLOW_SENTENCE
from tests.storage.test_media_samples import (
    assert_safe_jpeg,
    big_phone_jpeg,
    encode,
    phone_jpeg,
    png_bomb,
    truncated,
)

TICK = 0.005
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def burst() -> list[bytes]:
    """20 different 2 MP photos (a changed pixel each, so none is a duplicate)."""
    size = (1800, 1100)
    base = Image.merge("RGB", [Image.linear_gradient("L").resize(size),
                               Image.effect_noise(size, 6),
                               Image.radial_gradient("L").resize(size)])
    photos = []
    for i in range(20):
        base.putpixel((i, 0), (i, 255 - i, 0))
        photos.append(encode(base, "JPEG", quality=90))
    return photos


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    return big_phone_jpeg()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_processor(tmp_path_factory: pytest.TempPathFactory,
                           ) -> AsyncIterator[PhotoProcessor]:
    """One pool of two worker processes for the module: starting workers is the slow part."""
    store = MediaStore(tmp_path_factory.mktemp("media"))
    async with PhotoProcessor(store, workers=2) as processor:
        yield processor


@pytest_asyncio.fixture(loop_scope="module")
async def processor(shared_processor: PhotoProcessor, tmp_path: Path) -> PhotoProcessor:
    """The shared pool with this test's own media directory, every worker started."""
    shared_processor.store = MediaStore(tmp_path / "media")
    shared_processor.timeout = 60.0
    await shared_processor.warm_up()  # an earlier test may have replaced the pool
    return shared_processor


async def tick_intervals(during: Callable[[], Awaitable[object]]) -> list[float]:
    """How long a 5 ms sleep on the event loop really takes while `during` runs."""
    intervals: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            intervals.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        await during()
    finally:
        done.set()
        await ticker
    return intervals


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else float("inf")


def keeps_pace(idle: list[float], busy: list[float]) -> bool:
    """The ticker's typical and slow (90th percentile) intervals stay near the idle ones.

    Generous, because other processes share the machine: 2.5× the median, 4× the 90th
    percentile. Work on the loop itself stretches every interval to a photo's length.
    """
    return (len(busy) >= 3 and statistics.median(busy) <= 2.5 * statistics.median(idle)
            and p90(busy) <= 4 * p90(idle))


async def idle_intervals() -> list[float]:
    return await tick_intervals(lambda: asyncio.sleep(0.15))


async def test_photo_is_processed_in_a_worker_process(processor: PhotoProcessor,
                                                      tmp_path: Path) -> None:
    photo = await processor.process(phone_jpeg(), filename_hint="IMG_0001.JPG")
    assert photo.safe_path.is_relative_to(tmp_path / "media") and not photo.duplicate
    assert_safe_jpeg(photo.safe_path.read_bytes(), (300, 400))
    again = await processor.process(phone_jpeg())
    assert again.duplicate and again.safe_path == photo.safe_path


async def test_refusals_cross_the_process_boundary_as_sentences(
        processor: PhotoProcessor) -> None:
    with pytest.raises(MediaRefused, match="damaged or only partly sent"):
        await processor.process(truncated(phone_jpeg(800, 600)))
    with pytest.raises(MediaRefused, match="144 megapixels"):
        await processor.process(png_bomb(12_000, 12_000))
    with pytest.raises(MediaRefused, match="arrived empty"):
        await processor.process(b"")


async def test_event_loop_stays_responsive_during_a_burst_of_20_photos(
        processor: PhotoProcessor, burst: list[bytes]) -> None:
    """A small task's 5 ms timer keeps its pace while 20 photos are processed.

    Compared with the same task on the idle loop, measured before and after the burst (the
    larger of the two, so a neighbour's load that changes meanwhile is not blamed on us).
    The control below shows the same bound fails when the work runs on the loop.
    """
    before = await idle_intervals()
    results: list[ProcessedPhoto] = []

    async def twenty() -> None:
        results.extend(await asyncio.gather(*(processor.process(p) for p in burst)))
    busy = await tick_intervals(twenty)
    after = await idle_intervals()
    idle = max(before, after, key=statistics.median)

    assert len(results) == 20 and not any(r.duplicate for r in results)
    assert keeps_pace(idle, busy), (sorted(idle), sorted(busy))


async def test_control_the_responsiveness_measure_catches_work_on_the_loop(
        burst: list[bytes]) -> None:
    """The same measure, with photos processed on the loop itself, fails the bound above."""
    idle = await idle_intervals()

    async def on_the_loop() -> None:
        for data in burst[:5]:
            process_photo_bytes(data)
            await asyncio.sleep(0)
    busy = await tick_intervals(on_the_loop)
    assert not keeps_pace(idle, busy), (sorted(idle), sorted(busy))


async def test_a_dead_worker_costs_nobody_their_photo(processor: PhotoProcessor,
                                                      burst: list[bytes]) -> None:
    """A worker killed mid-burst (a decoder crash, the OOM killer): photos are retried."""
    photos = [asyncio.create_task(processor.process(p)) for p in burst[:4]]
    await asyncio.sleep(0.01)
    # Private on purpose: this is how a crashing decoder looks from outside.
    processor._executor.submit(os._exit, 1)
    results = await asyncio.gather(*photos)
    assert all(r.safe_path.exists() for r in results)
    after = await processor.process(phone_jpeg(orientation=3))
    assert after.safe_path.exists()


async def test_a_photo_that_takes_too_long_frees_its_worker(processor: PhotoProcessor,
                                                            big_photo: bytes) -> None:
    """The ambassador hears why; the worker is ended and the next photo is served."""
    processor.timeout = 0.02
    with pytest.raises(MediaRefused) as refused:
        await processor.process(big_photo)
    assert refused.value.sentence == SLOW_SENTENCE
    processor.timeout = 60.0
    photo = await processor.process(phone_jpeg(orientation=8))
    assert photo.safe_path.exists()


async def test_too_many_waiting_photos_get_a_sentence_not_a_queue(tmp_path: Path,
                                                                   burst: list[bytes]) -> None:
    async with PhotoProcessor(MediaStore(tmp_path), workers=1, executor="thread",
                              max_waiting=2) as processor:
        outcomes = await asyncio.gather(*(processor.process(p) for p in burst[:5]),
                                        return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, MediaRefused)]
    assert len(refused) == 3 and {r.sentence for r in refused} == {BUSY_SENTENCE}


async def test_slow_photo_gets_a_sentence_in_thread_mode_too(tmp_path: Path,
                                                              big_photo: bytes) -> None:
    async with PhotoProcessor(MediaStore(tmp_path), executor="thread",
                              timeout=0.001) as processor:
        with pytest.raises(MediaRefused) as refused:
            await processor.process(big_photo)
    assert refused.value.sentence == SLOW_SENTENCE


async def test_unwritable_media_directory_gets_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "media").write_text("a file where the directory should be")
    async with PhotoProcessor(MediaStore(tmp_path / "media"), executor="thread") as processor:
        with pytest.raises(MediaRefused, match="couldn't be saved just now"):
            await processor.process(phone_jpeg())
        with pytest.raises(MediaRefused, match="video couldn't be saved"):
            await processor.store_video(b"\x00\x00\x00\x10ftypisom" + bytes(64), None, "f")


async def test_closed_processor_refuses_politely(tmp_path: Path) -> None:
    processor = PhotoProcessor(MediaStore(tmp_path), executor="thread")
    await processor.aclose()
    with pytest.raises(MediaRefused) as refused:
        await processor.process(phone_jpeg())
    assert refused.value.sentence == FAILED_SENTENCE


async def test_closing_with_photos_in_flight_answers_every_one(tmp_path: Path,
                                                                burst: list[bytes]) -> None:
    """Closing at shutdown: each photo is stored or refused with a sentence, none cancelled."""
    processor = PhotoProcessor(MediaStore(tmp_path), workers=1, executor="thread")
    tasks = [asyncio.create_task(processor.process(p)) for p in burst[:4]]
    await asyncio.sleep(0.01)
    processor.close(wait=False)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, MediaRefused)]
    assert refused and {r.sentence for r in refused} == {FAILED_SENTENCE}
    assert all(isinstance(o, MediaRefused) or o.safe_path.exists() for o in outcomes)


async def test_video_is_stored_off_the_loop(tmp_path: Path) -> None:
    async with PhotoProcessor(MediaStore(tmp_path), executor="thread") as processor:
        video = await processor.store_video(b"\x00\x00\x00\x10ftypisom" + bytes(64),
                                            phone_jpeg(64, 48), "file-id")
    assert video.path.exists() and video.thumb_path is not None and video.needs_review
