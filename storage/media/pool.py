"""Photo processing off the event loop, in a bounded pool of worker processes (DESIGN §7).

Why processes rather than threads:

- a decoder that crashes on a hostile file (libjpeg, libheif, libwebp are C) takes down one
  worker, not the bot: the pool is rebuilt and the ambassador gets a sentence;
- decoding holds the GIL in places; in separate processes, at a lower CPU priority, a burst
  of photos cannot delay other people's conversations on the bot's event loop;
- `warnings.catch_warnings()` (DecompressionBombWarning as an error) is only truly safe with
  one thread per process.

The cost is copying the bytes to the worker (a few ms for a phone photo). Threads remain
available (`executor="thread"`) for the sandbox or tests that want no child processes.

Workers are started with "spawn", never "fork": forking a process that runs an event loop,
database pools and HTTP clients copies their locks in whatever state they are in.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
from concurrent.futures.process import BrokenProcessPool
from typing import Literal

from storage.errors import MediaRefused
from storage.media.pipeline import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    PhotoLimits,
    check_photo_bytes,
    check_photo_header,
)
from storage.media.store import MediaStore, ProcessedPhoto, StoredVideo

log = logging.getLogger(__name__)

# Workers yield the CPU to the bot's own process when both want it.
WORKER_NICENESS = 10

BUSY_SENTENCE = ("Lots of photos are being prepared right now. "
                 "Please send this one again in a minute.")
FAILED_SENTENCE = ("Something went wrong while preparing that photo. "
                   "Please send it again, or send a different photo.")
SLOW_SENTENCE = ("That photo is taking too long to prepare. "
                 "Please send a smaller one, or send it again in a minute.")
NOT_SAVED_SENTENCE = ("That {kind} couldn't be saved just now. "
                      "Please send it again in a few minutes.")


class PhotoProcessor:
    """The bot's door to the media module: `await process(data)`, `await store_video(...)`.

    At most `workers` photos are decoded at once; the rest wait their turn on the event loop
    (costing nothing). With `max_waiting` photos already accepted (waiting or in progress),
    the next ambassador is asked to resend in a minute rather than wait behind them.
    Every outcome is a `ProcessedPhoto` or a `MediaRefused` with a sentence, within `timeout`.
    """

    def __init__(self, store: MediaStore, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_pixels: int = DEFAULT_MAX_PIXELS, long_edge: int = 1600,
                 thumb_edge: int = 320, workers: int = 2, *,
                 executor: Literal["process", "thread"] = "process",
                 timeout: float = 60.0, max_waiting: int = 100) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.store = store
        self.limits = PhotoLimits(max_bytes=max_bytes, max_pixels=max_pixels,
                                  long_edge=long_edge, thumb_edge=thumb_edge)
        self.workers = workers
        self.executor_kind = executor
        self.timeout = timeout
        self.max_waiting = max_waiting
        self._executor = self._new_executor()
        # One more slot than workers keeps each worker fed without a gap between photos.
        self._slots = asyncio.Semaphore(workers + 1)
        self._waiting = 0
        self._closed = False

    async def __aenter__(self) -> PhotoProcessor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def process(self, data: bytes, filename_hint: str | None = None) -> ProcessedPhoto:
        """Store a safe copy and thumbnail of `data`, or raise `MediaRefused` with a sentence.

        `filename_hint` is only for the log: the content decides what the file is.
        """
        # Instant refusals (empty, too large, not a usable type) need no worker.
        check_photo_bytes(data, max_bytes=self.limits.max_bytes)
        if self._waiting >= self.max_waiting:
            log.warning("media pool: %d photos waiting; asking for %s to be resent",
                        self._waiting, filename_hint or "a photo")
            raise MediaRefused(BUSY_SENTENCE)
        self._waiting += 1
        try:
            async with self._slots:
                return await self._run(data, filename_hint)
        finally:
            self._waiting -= 1

    async def check_header(self, data: bytes) -> tuple[int, int]:
        """`check_photo_header` in a thread: no pixel is decoded, but a HEIF container is
        parsed, which is not for the event loop. Raises `MediaRefused` with a sentence."""
        return await asyncio.to_thread(check_photo_header, data, self.limits)

    async def store_video(self, data: bytes, thumb: bytes | None,
                          file_id: str | None) -> StoredVideo:
        """Store a Telegram video as sent, plus its thumbnail, or refuse with a sentence.

        Runs in a thread (writing up to 20 MB; no decoding but the small thumbnail).
        """
        try:
            return await asyncio.to_thread(self.store.store_video, data, thumb, file_id,
                                           max_bytes=self.limits.max_bytes, limits=self.limits)
        except OSError:  # the media directory is full or unwritable: the office must know
            log.exception("media: could not store a video")
            raise MediaRefused(NOT_SAVED_SENTENCE.format(kind="video")) from None

    async def warm_up(self) -> None:
        """Start every worker now, so the first photo after start-up is not the slow one."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, _ready)
                               for _ in range(self.workers)))

    def close(self, *, wait: bool = True) -> None:
        """Stop the workers; photos not yet started are dropped (their callers get a sentence)."""
        self._closed = True
        self._executor.shutdown(wait=wait, cancel_futures=True)

    async def aclose(self) -> None:
        """`close()` without blocking the event loop while a worker finishes its photo."""
        await asyncio.to_thread(self.close)

    # -----------------------------------------------------------------------------------------

    async def _run(self, data: bytes, filename_hint: str | None) -> ProcessedPhoto:
        for attempt in (1, 2):
            if self._closed:
                raise MediaRefused(FAILED_SENTENCE)
            executor = self._executor
            try:
                future = executor.submit(_add_photo, self.store, data, self.limits)
                return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is None or task.cancelling():
                    raise  # the caller was cancelled (e.g. /cancel): not ours to answer
                # The pool was replaced or closed before this photo started: the loop tries
                # the new pool, or refuses if we are closing.
                log.info("media: %s was waiting in a pool that was stopped (attempt %d)",
                         filename_hint or "a photo", attempt)
            except BrokenProcessPool:
                # A worker died (killed, out of memory, or a decoder crashed). Every photo in
                # flight fails with it; each gets one more try in a fresh pool, so only a photo
                # that crashes a worker twice is refused.
                log.error("media worker died while processing %s (attempt %d)",
                          filename_hint or "a photo", attempt)
                self._replace_broken(executor)
            except TimeoutError:
                if not future.cancel():
                    # Running, and a decoder stuck on a hostile file would hold its worker for
                    # good: stop that pool; photos in flight with it are retried in a new one.
                    self._abandon(executor)
                log.warning("media: %s took over %g s; refused",
                            filename_hint or "a photo", self.timeout)
                raise MediaRefused(SLOW_SENTENCE) from None
            except OSError:  # the media directory is full or unwritable: the office must know
                log.exception("media: could not store %s", filename_hint or "a photo")
                raise MediaRefused(NOT_SAVED_SENTENCE.format(kind="photo")) from None
            except RuntimeError as exc:  # submit() after shutdown
                if not self._closed:
                    raise
                raise MediaRefused(FAILED_SENTENCE) from exc
        raise MediaRefused(FAILED_SENTENCE)

    def _replace_broken(self, broken: concurrent.futures.Executor) -> None:
        if self._executor is broken and not self._closed:
            self._executor = self._new_executor()
            broken.shutdown(wait=False, cancel_futures=True)

    def _abandon(self, stuck: concurrent.futures.Executor) -> None:
        """Replace a pool whose worker is stuck, and end its worker processes."""
        if not isinstance(stuck, concurrent.futures.ProcessPoolExecutor):
            return  # a thread cannot be stopped; it finishes on its own, the photo is refused
        terminate = getattr(stuck, "terminate_workers", None)  # Python 3.14+
        # Before 3.14 the stdlib offers no public way; `_processes` has been there since 3.2.
        # Read before shutdown(), which drops it.
        processes = list((getattr(stuck, "_processes", None) or {}).values())
        self._replace_broken(stuck)
        if terminate is not None:
            terminate()
            return
        for process in processes:
            process.terminate()

    def _new_executor(self) -> concurrent.futures.Executor:
        if self.executor_kind == "thread":
            return concurrent.futures.ThreadPoolExecutor(self.workers,
                                                         thread_name_prefix="media")
        if self.executor_kind != "process":
            raise ValueError(f"executor must be 'process' or 'thread', not {self.executor_kind!r}")
        return concurrent.futures.ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker)


def _init_worker() -> None:
    try:
        os.nice(WORKER_NICENESS)
    except OSError:  # not permitted on this platform: run at normal priority
        pass


def _ready() -> int:
    return os.getpid()


def _add_photo(store: MediaStore, data: bytes, limits: PhotoLimits) -> ProcessedPhoto:
    """What a worker runs: a module-level function, so the process pool can pickle it."""
    return store.add_photo(data, limits)
