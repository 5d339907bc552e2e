"""`python -m bench photo [--quick]`: the safe-photo pipeline against bare Pillow (DESIGN §11).

Input: a 12 MP JPEG (4000×3000) as a phone writes it: EXIF orientation 6 and a GPS position.

Variants, run interleaved in one process (the order rotates every round, so neither always
runs first on a warm cache), each call timed on its own, ratios taken pair by pair per round:

- floor: bare Pillow as the issue sets it: ``open``, ``draft("RGB", (1600, 1600))``,
  ``resize`` to 1600×1200, ``save`` JPEG quality 85 (in memory);
- pipeline: ``storage.media.process_photo_bytes``: size and type checks, SHA-256, header pixel
  check, draft, resize, sRGB, EXIF orientation, metadata-free JPEG q85 *and* a 320 px
  thumbnail (in memory);
- for context, not targets: the floor with ``draft`` asked for the exact target box (which lets
  the JPEG decoder scale by 1/2; the issue's ``(1600, 1600)`` box does not, because 3000 px is
  less than twice 1600), and ``MediaStore.add_photo``, the pipeline plus writing both files.

Peak memory: Pillow allocates pixels with C ``malloc``, which tracemalloc does not see, so
memory is measured as the OS sees it. Each measurement is a fresh interpreter that imports the
same modules (both variants import the pipeline and Pillow), reads the same input file, notes
its peak resident size (VmHWM), runs the variant once, and reports the rise: the peak resident
memory the work itself added, like for like. Fresh processes, because a high-water mark
reached once in a process hides every later peak below it, and glibc keeps freed memory.
Those runs are interleaved as well (floor, pipeline, pipeline, floor, …).

Also timed: refusing a 30000×30000 PNG bomb and a 144 MP PNG (137 KiB), next to what bare
Pillow spends decoding that 144 MP PNG.

Last line: ``photo: <ratio> pipeline/floor time`` (median of the per-round ratios).
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import json
import os
import platform
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

from bench.common import median_range, pairwise_ratios
from storage.errors import MediaRefused
from storage.media.pipeline import PhotoLimits, fit_within, process_photo_bytes
from storage.media.store import MediaStore

REPO = Path(__file__).resolve().parent.parent
SIZE = (4000, 3000)
LONG_EDGE = 1600
TIME_TARGET, MEMORY_TARGET = 1.1, 1.2
SIZES = {  # (time rounds, memory rounds, bomb repetitions)
    "default": (21, 7, 15),
    "quick": (5, 2, 5),
}


# -- the input ---------------------------------------------------------------------------------


def phone_photo(size: tuple[int, int] = SIZE) -> bytes:
    """A 12 MP JPEG with texture (so it decodes like a photo, not a flat test card),
    orientation 6 and GPS, at the size a phone writes (about 3 MB)."""
    width, height = size
    im = Image.merge("RGB", [Image.linear_gradient("L").resize(size),
                             Image.effect_noise(size, 22),
                             Image.radial_gradient("L").resize(size)])
    draw = ImageDraw.Draw(im)
    for i in range(80):
        x, y = (i * 487) % width, (i * 311) % height
        draw.ellipse((x, y, x + 120 + i * 7, y + 90 + i * 5), fill=(i * 3, 200 - i * 2, i))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F], exif[0x0110] = "PhoneMaker", "Phone 15"
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 42.0, 30.5), 3: "W", 4: (2.0, 45.0, 10.25)})
    out = io.BytesIO()
    im.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """8-bit grey zeros: one compressed block repeated after zlib full flushes (see tests)."""
    row = bytes(width + 1)
    rows = max(1, min(height, (1 << 20) // len(row)))
    while height % rows:
        rows -= 1
    compressor = zlib.compressobj(9)
    first = compressor.compress(row * rows) + compressor.flush(zlib.Z_FULL_FLUSH)
    unit = compressor.compress(row * rows) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = compressor.flush(zlib.Z_FINISH)[:-4]
    adler = (((height * len(row)) % 65521) << 16) | 1
    stream = first + unit * (height // rows - 1) + final + struct.pack(">I", adler)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", stream)
            + chunk(b"IEND", b""))


# -- the variants ------------------------------------------------------------------------------


def floor(data: bytes, draft_box: tuple[int, int] = (LONG_EDGE, LONG_EDGE)) -> bytes:
    """Bare Pillow, as the issue defines the floor."""
    im = Image.open(io.BytesIO(data))
    target = fit_within(im.size, LONG_EDGE)
    im.draft("RGB", draft_box)
    im = im.resize(target)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


def floor_exact_draft(data: bytes) -> bytes:
    return floor(data, fit_within(SIZE, LONG_EDGE))


def pipeline(data: bytes) -> bytes:
    return process_photo_bytes(data).jpeg


def make_store_variant(root: Path) -> Callable[[bytes], object]:
    """The pipeline plus writing both files; a fresh directory each call, so never a duplicate."""
    counter = iter(range(1_000_000))

    def store(data: bytes) -> object:
        return MediaStore(root / str(next(counter))).add_photo(data)
    return store


VARIANTS: dict[str, Callable[[bytes], object]] = {"floor": floor, "pipeline": pipeline}


# -- measuring ---------------------------------------------------------------------------------


def timed(fn: Callable[[bytes], object], data: bytes) -> float:
    gc.collect()
    start = time.perf_counter()
    fn(data)
    return time.perf_counter() - start


def measure_time(data: bytes, rounds: int, store_root: Path) -> dict[str, list[float]]:
    variants: dict[str, Callable[[bytes], object]] = {
        "floor": floor, "pipeline": pipeline, "floor, exact draft": floor_exact_draft,
        "pipeline + store": make_store_variant(store_root)}
    names = list(variants)
    for name in names:  # warm: imports, decoder set-up, page faults
        variants[name](data)
        variants[name](data)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_no in range(rounds):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(timed(variants[name], data))
    return seconds


def peak_rss_kib() -> int:
    """This process's peak resident memory, KiB.

    VmHWM, not ``ru_maxrss``: Linux carries ``ru_maxrss`` across exec, so a child started
    from a large parent would report the parent's size as its own peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # other systems (KiB on Linux)


def child(variant: str, path: str) -> None:
    """Run in a fresh interpreter: report the peak-RSS rise of one call of `variant`."""
    data = Path(path).read_bytes()
    fn = VARIANTS[variant]
    gc.collect()
    before = peak_rss_kib()
    fn(data)
    after = peak_rss_kib()
    print(json.dumps({"variant": variant, "kib": after - before, "baseline_kib": before}))


def measure_memory(path: Path, rounds: int) -> dict[str, list[float]]:
    """MiB of peak-RSS rise per variant, one fresh interpreter per measurement."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(REPO), os.environ.get("PYTHONPATH", "")]))}
    mib: dict[str, list[float]] = {name: [] for name in VARIANTS}
    baselines: list[float] = []
    for round_no in range(rounds):
        order = list(VARIANTS) if round_no % 2 == 0 else list(reversed(VARIANTS))
        for name in order:
            out = subprocess.run(
                [sys.executable, "-c",
                 f"from bench.photo import child; child({name!r}, {str(path)!r})"],
                cwd=REPO, env=env, check=True, capture_output=True, text=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            mib[name].append(result["kib"] / 1024)
            baselines.append(result["baseline_kib"] / 1024)
    mib["baseline (process before the call)"] = baselines
    return mib


def refusal_seconds(data: bytes, repetitions: int) -> list[float]:
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        try:
            process_photo_bytes(data, PhotoLimits())
        except MediaRefused:
            pass
        else:
            raise AssertionError("a bomb was not refused")
        times.append(time.perf_counter() - start)
    return times


def bare_decode_seconds(data: bytes, repetitions: int) -> list[float]:
    """What refusing saves: bare Pillow decoding the 144 MP PNG (it only warns)."""
    times = []
    for _ in range(repetitions):
        gc.collect()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            im.load()
        times.append(time.perf_counter() - start)
        del im
    return times


# -- report ------------------------------------------------------------------------------------


def ms(values: list[float]) -> str:
    return median_range([v * 1000 for v in values])


def main(argv: list[str]) -> None:
    mode = "quick" if "--quick" in argv else "default"
    time_rounds, memory_rounds, bomb_reps = SIZES[mode]
    data = phone_photo()
    print(f"photo benchmark ({mode}): {SIZE[0]}×{SIZE[1]} JPEG, {len(data) / 1e6:.1f} MB, "
          f"EXIF orientation 6 + GPS → {LONG_EDGE} px + 320 px thumbnail; "
          f"Python {platform.python_version()}, Pillow {Image.__version__}, "
          f"{os.cpu_count()} cores; {dt.date.today().isoformat()}")

    with tempfile.TemporaryDirectory(prefix="bench-photo-") as temp:
        path = Path(temp) / "phone.jpg"
        path.write_bytes(data)
        seconds = measure_time(data, time_rounds, Path(temp) / "store")
        memory = measure_memory(path, memory_rounds)

    time_ratios = pairwise_ratios(seconds["pipeline"], seconds["floor"])
    exact_ratios = pairwise_ratios(seconds["pipeline"], seconds["floor, exact draft"])
    memory_ratios = pairwise_ratios(memory["pipeline"], memory["floor"])
    time_ratio = statistics.median(time_ratios)
    memory_ratio = statistics.median(memory_ratios)

    print(f"\ntime, ms: median (min–max) of {time_rounds} interleaved rounds")
    for name, values in seconds.items():
        print(f"  {name:<40} {ms(values)}")
    print(f"  {'ratio pipeline/floor, per round':<40} {median_range(time_ratios)}")
    print(f"  {'ratio pipeline/exact-draft floor':<40} {median_range(exact_ratios)}")

    print(f"\npeak memory, MiB of peak-RSS rise in a fresh process: median (min–max) of "
          f"{memory_rounds} interleaved rounds")
    for name, values in memory.items():
        print(f"  {name:<40} {median_range(values)}")
    print(f"  {'ratio pipeline/floor, per round':<40} {median_range(memory_ratios)}")

    bomb_900 = png_bomb(30_000, 30_000)
    bomb_144 = png_bomb(12_000, 12_000)
    print(f"\nrefusing, ms: median (min–max) of {bomb_reps}")
    rows = [
        (f"30000×30000 PNG bomb ({len(bomb_900) / 1024:.0f} KiB)",
         refusal_seconds(bomb_900, bomb_reps)),
        (f"12000×12000 PNG, 144 MP ({len(bomb_144) / 1024:.0f} KiB)",
         refusal_seconds(bomb_144, bomb_reps)),
        ("bare Pillow decoding that 144 MP PNG", bare_decode_seconds(bomb_144,
                                                                     max(1, bomb_reps // 5))),
    ]
    for label, values in rows:
        print(f"  {label:<40} {ms(values)}")

    verdict = {True: "met", False: "MISSED"}
    print(f"\ntargets: time ≤ {TIME_TARGET}× floor: {verdict[time_ratio <= TIME_TARGET]} "
          f"({time_ratio:.2f}×); peak memory ≤ {MEMORY_TARGET}× floor: "
          f"{verdict[memory_ratio <= MEMORY_TARGET]} ({memory_ratio:.2f}×)")
    print(f"photo: {time_ratio:.2f} pipeline/floor time")


if __name__ == "__main__":
    main(sys.argv[1:])
