"""Bytes an ambassador sent → a JPEG that is safe to publish, and a thumbnail (DESIGN §7, §9).

Pure processing: no files, no network, no event loop. `process_photo_bytes()` is the whole
recipe; `storage.media.store` writes its result to disk and `storage.media.pool` runs it off
the bot's event loop.

The order matters for speed and safety:

1. cheap refusals from the bytes alone (empty, too large, not JPEG/PNG/WebP/HEIC);
2. `Image.open()` reads only the header; the pixel count is checked there, before any pixel
   is decoded (Pillow's `DecompressionBombWarning` is an error while we open);
3. `draft()` asks the JPEG decoder for the smallest DCT scale (1/2, 1/4, 1/8) that is still
   at least the target size, so a 12 MP photo is decoded at 3 MP;
4. resize to 1,600 px on the long edge, then colour-manage to sRGB, then apply the EXIF
   orientation: each on the small image, not the large one;
5. the thumbnail is made from the 1,600 px image, not from the original;
6. both are saved as baseline JPEG with an empty `info`, so no EXIF, GPS, XMP, maker note,
   comment or ICC profile can travel across.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import pillow_heif
from PIL import Image, ImageCms, ImageFile

from storage.errors import MediaRefused

log = logging.getLogger(__name__)

# Adds the "HEIF" format to Pillow's registry: additive, changes nothing for other formats.
pillow_heif.register_heif_opener()

MIB = 1024 * 1024
# The Bot API's getFile limit ("up to 20 MB"), which Telegram counts in binary megabytes.
DEFAULT_MAX_BYTES = 20 * MIB
DEFAULT_MAX_PIXELS = 50_000_000
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
ACCEPTED_WORDS = "JPEG, PNG, WebP or HEIC"

# ISO-BMFF brands (the `ftyp` box) of HEIF still images; iPhones write `heic`.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_GENERIC_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}

_ORIENTATION_TAG = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# `warnings.catch_warnings()` swaps a process-wide filter list; two threads doing it at once
# can leave the "error" filter installed for everybody. The lock keeps our (microsecond-long)
# header reads one at a time, so the swap is always undone in order.
_WARNINGS_LOCK = threading.Lock()


@dataclass(frozen=True)
class PhotoLimits:
    """What the office accepts and what it publishes. Defaults follow the issue and Bot API."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    long_edge: int = 1600
    thumb_edge: int = 320
    quality: int = 85

    def __post_init__(self) -> None:
        if min(self.max_bytes, self.max_pixels, self.long_edge, self.thumb_edge) <= 0:
            raise ValueError("media limits must be positive")
        if not 1 <= self.quality <= 95:
            raise ValueError("JPEG quality must be between 1 and 95")


@dataclass(frozen=True)
class SafePhoto:
    """The publishable copy and thumbnail, as JPEG bytes, plus what we know about the input."""

    content_hash: str
    format: str
    bytes_in: int
    width: int
    height: int
    jpeg: bytes
    thumb_width: int
    thumb_height: int
    thumb: bytes


def content_hash(data: bytes) -> str:
    """SHA-256 of what was sent, as 64 hex digits: the same photo sent twice has the same name."""
    return hashlib.sha256(data).hexdigest()


def megabytes(size: int, *, round_up: bool) -> str:
    """'25', '20.1': a size just over the limit never reads as the limit itself."""
    return _amount(size / MIB, round_up=round_up)


def too_large_sentence(kind: str, size: int, limit: int) -> str:
    smaller = "a smaller one" if kind == "photo" else "a shorter or smaller one"
    return (f"That {kind} is too large to use ({megabytes(size, round_up=True)} MB); "
            f"the limit is {megabytes(limit, round_up=False)} MB. Please send {smaller}.")


def check_size_before_download(file_size: int | None, *, max_bytes: int = DEFAULT_MAX_BYTES,
                               kind: str = "photo") -> None:
    """Refuse from the size Telegram announces, before spending a download on it.

    `None` (Telegram did not say) passes: the bytes are checked again after download.
    """
    if file_size is not None and file_size > max_bytes:
        raise MediaRefused(too_large_sentence(kind, file_size, max_bytes))


def check_photo_bytes(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The refusals that need no decoding (microseconds; fine on the event loop).

    Returns the format to decode as: one of `ACCEPTED_FORMATS`.
    """
    if not data:
        raise MediaRefused("That photo arrived empty (0 bytes). Please send it again.")
    if len(data) > max_bytes:
        raise MediaRefused(too_large_sentence("photo", len(data), max_bytes))
    return sniff_photo_format(data[:64])


def sniff_photo_format(head: bytes) -> str:
    """What the first bytes say the file is; refuse with a sentence naming what it looks like.

    The file name and the sender's claimed type are ignored: only the content counts.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        brands = _ftyp_brands(head)
        if brands & _HEIF_BRANDS or (brands & _GENERIC_HEIF_BRANDS and not brands & _AVIF_BRANDS):
            return "HEIF"
        if brands & _AVIF_BRANDS:
            raise MediaRefused(_other_image_sentence("an AVIF picture"))
        raise MediaRefused("That looks like a video, not a photo. "
                           "Please send it as a video, or send a photo instead.")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        raise MediaRefused("That's a GIF (an animation), not a photo. "
                           f"Please send a still photo ({ACCEPTED_WORDS}).")
    if head[:4] == b"\x1aE\xdf\xa3" or (head[:4] == b"RIFF" and head[8:11] == b"AVI"):
        raise MediaRefused("That looks like a video, not a photo. "
                           "Please send it as a video, or send a photo instead.")
    if head.startswith(b"%PDF"):
        raise MediaRefused("That's a PDF document, not a photo. "
                           f"Please send the photo itself ({ACCEPTED_WORDS}).")
    for magic, name in ((b"BM", "a BMP picture"), (b"II*\x00", "a TIFF picture"),
                        (b"MM\x00*", "a TIFF picture")):
        if head.startswith(magic):
            raise MediaRefused(_other_image_sentence(name))
    if _looks_like_text(head):
        raise MediaRefused("That file isn't a photo (it looks like text). "
                           f"Please send a photo: {ACCEPTED_WORDS}.")
    raise MediaRefused("That file isn't a photo the office can use. "
                       f"Please send a {ACCEPTED_WORDS} photo.")


def check_photo_header(data: bytes, limits: PhotoLimits = PhotoLimits()) -> tuple[int, int]:
    """Everything that can be refused without decoding a pixel: the content's kind and the
    size its header declares (a 12,000 × 12,000 PNG is refused in milliseconds). Used as a
    photo arrives, so the person hears at once; `process_photo_bytes` checks all of it again
    and decodes. Returns (width, height)."""
    fmt = check_photo_bytes(data, max_bytes=limits.max_bytes)
    with _open_checked(data, fmt, limits) as im:
        return im.size


_THAT = re.compile(r"That(?:'s\b| (?:photo|file|picture|video)\b)?")


def naming(sentence: str, subject: str) -> str:
    """A refusal about "that photo" said of the file it was, so someone who sent several
    knows which: ("That file isn't a photo…", "“notes.txt”") → "“notes.txt” isn't a photo…"."""
    said = _THAT.match(sentence)
    if said is None:
        return f"{subject}: {sentence}"
    return subject + (" is" if said.group(0) == "That's" else "") + sentence[said.end():]


def process_photo_bytes(data: bytes, limits: PhotoLimits = PhotoLimits(), *,
                        known_hash: str | None = None) -> SafePhoto:
    """The whole recipe: refuse, or return the safe 1,600 px JPEG and the thumbnail.

    Raises only `MediaRefused`, whatever the bytes (a test feeds it random bytes to check).
    `known_hash` skips hashing again when the caller already has it.
    """
    fmt = check_photo_bytes(data, max_bytes=limits.max_bytes)
    safe = render_rgb(data, fmt, limits, long_edge=limits.long_edge)
    thumb = safe.resize(fit_within(safe.size, limits.thumb_edge), Image.Resampling.BICUBIC,
                        reducing_gap=2.0)
    return SafePhoto(content_hash=known_hash or content_hash(data), format=fmt,
                     bytes_in=len(data), width=safe.width, height=safe.height,
                     jpeg=encode_jpeg(safe, limits.quality), thumb_width=thumb.width,
                     thumb_height=thumb.height, thumb=encode_jpeg(thumb, limits.quality))


def fit_within(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """The size with its long edge at most `long_edge`, aspect kept; never enlarged."""
    width, height = size
    longest = max(width, height)
    if longest <= long_edge:
        return width, height
    scale = long_edge / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_jpeg(im: Image.Image, quality: int) -> bytes:
    """Baseline JPEG with no metadata segment at all (only JFIF's APP0)."""
    # Pillow's JPEG writer falls back to im.info for some fields (the comment, for one);
    # an empty info guarantees nothing from the sender's file is written back out.
    im.info = {}
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


def render_rgb(data: bytes, fmt: str, limits: PhotoLimits, *, long_edge: int) -> Image.Image:
    """Decode (at reduced size where the format allows), resize, sRGB, upright. RGB out."""
    im = _open_checked(data, fmt, limits)
    target = fit_within(im.size, long_edge)
    try:
        if target != im.size:
            # JPEG: decode at the smallest DCT scale that still covers the target.
            # HEIF: use an embedded thumbnail if one is large enough. Others: no-op.
            im.draft("RGB", target)
        im.load()
        orientation = _orientation(im)
        icc = im.info.get("icc_profile")
        im = _to_resizable(im)
        if im.size != target:
            im = im.resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0)
        im = _to_srgb(im, icc)
    except MediaRefused:
        raise
    except Exception as exc:
        # The decoders raise OSError, ValueError, SyntaxError, EOFError, struct.error,
        # IndexError… on damaged input; which one is an accident of where the damage is.
        # Every one means the same to the ambassador.
        log.info("photo could not be decoded (%s): %s", fmt, exc)
        raise MediaRefused(_damaged_sentence()) from None
    if orientation in _TRANSPOSE:
        im = im.transpose(_TRANSPOSE[orientation])
    return im


# ---------------------------------------------------------------------------------------------


def _open_checked(data: bytes, fmt: str, limits: PhotoLimits) -> ImageFile.ImageFile:
    """Read the header only, and refuse what is too big to decode before decoding it."""
    if fmt == "WEBP" and (declared := _webp_size(data[:30])):
        # Pillow builds libwebp's decoder, canvas and all, inside Image.open(): check first.
        if declared[0] * declared[1] > limits.max_pixels:
            raise MediaRefused(_too_many_pixels_sentence(declared[0] * declared[1], limits))
    try:
        with _bomb_warning_is_error():
            im = Image.open(io.BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRefused(_too_many_pixels_sentence(_pixels_from(str(exc)), limits)) from None
    except Exception as exc:
        # Broad on purpose, as in render_rgb: the header parser's exception type tells
        # the ambassador nothing. Our own code is outside this block.
        log.info("photo header could not be read (%s): %s", fmt, exc)
        raise MediaRefused(_damaged_sentence()) from None
    width, height = im.size
    if width * height > limits.max_pixels:
        raise MediaRefused(_too_many_pixels_sentence(width * height, limits))
    if fmt in ("PNG", "WEBP") and getattr(im, "is_animated", False):
        raise MediaRefused("That's an animation, not a photo. "
                           f"Please send a still photo ({ACCEPTED_WORDS}).")
    return im


@contextmanager
def _bomb_warning_is_error() -> Iterator[None]:
    """Turn Pillow's DecompressionBombWarning into an exception, for this block only.

    Pillow's global MAX_IMAGE_PIXELS is left alone; our own, lower limit is checked by the
    caller from the header. This catches what is over Pillow's limit but under a higher
    limit someone configured for us.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Corrupt EXIF data" and friends: noise, not news
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1–8; a broken EXIF block means 'as stored', not a refusal."""
    try:
        with _WARNINGS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data" and friends
            value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception as exc:  # a damaged EXIF block must not cost the photo
        log.info("ignoring unreadable EXIF: %s", exc)
        return 1
    return value if isinstance(value, int) else 1


def _to_resizable(im: Image.Image) -> Image.Image:
    """An 8-bit image Pillow resizes well: RGB, L or CMYK; transparency flattened on white."""
    mode = im.mode
    if mode in ("RGB", "L", "CMYK"):
        return im
    if mode.startswith("I;16") or mode == "I":
        # 16-bit grey: Pillow's convert("L") clips at 255; scale 0–65535 down to 0–255.
        return im.convert("I").point(lambda v: v * (1 / 256), "L")
    if mode == "F":
        return im.convert("L")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if not has_alpha:
        return im.convert("RGB")
    rgba = im.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB in sRGB. Uses the embedded ICC profile when there is one (iPhones: Display P3)."""
    if icc and im.mode in ("RGB", "CMYK", "L"):
        transform = _transform_to_srgb(bytes(icc), im.mode)
        if transform is not None:
            return ImageCms.applyTransform(im, transform) or im
    return im if im.mode == "RGB" else im.convert("RGB")


@lru_cache(maxsize=16)
def _transform_to_srgb(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """Build (once per profile) the transform to sRGB; None for sRGB itself or a bad profile."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(profile) or ""
        if mode == "RGB" and "srgb" in description.lower():
            return None
        return ImageCms.buildTransform(profile, _SRGB, mode, "RGB",
                                       ImageCms.Intent.PERCEPTUAL)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        log.info("ignoring unusable ICC profile: %s", exc)
        return None


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def ftyp_is_still_image(head: bytes) -> bool:
    """True for HEIF/HEIC and AVIF pictures, False for videos (MP4, MOV, 3GP…)."""
    return bool(_ftyp_brands(head) & (_HEIF_BRANDS | _GENERIC_HEIF_BRANDS | _AVIF_BRANDS))


def _ftyp_brands(head: bytes) -> set[bytes]:
    """Major and compatible brands from the `ftyp` box at the start of an ISO-BMFF file."""
    box_size = int.from_bytes(head[:4], "big")
    end = min(max(box_size, 16), len(head))
    brands = {head[8:12]}
    brands.update(head[i:i + 4] for i in range(16, end - 3, 4))
    return brands


def _webp_size(head: bytes) -> tuple[int, int] | None:
    """Canvas size from a WebP's first chunk header (as Pillow reads it), without decoding."""
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        return (int.from_bytes(head[24:27], "little") + 1,
                int.from_bytes(head[27:30], "little") + 1)
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        return (int.from_bytes(head[26:28], "little") & 0x3FFF,
                int.from_bytes(head[28:30], "little") & 0x3FFF)
    return None


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 3
    return True


def _pixels_from(message: str) -> int | None:
    match = re.search(r"\((\d+) pixels\)", message)
    return int(match.group(1)) if match else None


def _amount(value: float, *, round_up: bool) -> str:
    """One decimal (two below 1), rounded away from the limit: '144', '20.1', '0.06'."""
    factor = 10 if value >= 1 else 100
    scaled = math.ceil(value * factor) if round_up else math.floor(value * factor)
    return f"{scaled / factor:.2f}".rstrip("0").rstrip(".")


def _too_many_pixels_sentence(pixels: int | None, limits: PhotoLimits) -> str:
    size = f" ({_amount(pixels / 1e6, round_up=True)} megapixels)" if pixels else ""
    return (f"That picture is too big to open{size}; the limit is "
            f"{_amount(limits.max_pixels / 1e6, round_up=False)} megapixels. "
            "Please send a smaller photo.")


def _other_image_sentence(name: str) -> str:
    return (f"That's {name}, which the office can't use. Please send it as a photo "
            f"({ACCEPTED_WORDS}); most phones do this when you attach it as a photo.")


def _damaged_sentence() -> str:
    return ("That photo couldn't be read: it may be damaged or only partly sent. "
            "Please send it again.")
