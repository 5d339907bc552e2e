"""The media test corpus, made in the tests (no binary fixtures), and the checks on outputs.

Big images are made cheaply: a PNG bomb's IDAT is one compressed block of zero rows repeated
(after a zlib full flush the compressor's output for the same input repeats byte for byte),
with the Adler-32 of all-zero data worked out rather than computed over 900 MB.
The tests at the bottom check that the samples are what they claim to be.
"""

from __future__ import annotations

import io
import struct
import zlib

import pillow_heif
from PIL import Image, ImageDraw

pillow_heif.register_heif_opener()

ORIENTATION, EXIF_IFD, GPS_IFD, MAKER_NOTE, USER_COMMENT = 0x0112, 0x8769, 0x8825, 0x927C, 0x9286
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
       b'22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
       b'exif:GPSLatitude="52,42.5N" exif:GPSLongitude="2,45.1W"/></rdf:RDF></x:xmpmeta>')
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


# -- images ------------------------------------------------------------------------------------


def quadrants(width: int, height: int) -> Image.Image:
    """Red top-left, green top-right, blue bottom-left, white bottom-right: shows any turn."""
    im = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(im)
    half_w, half_h = width // 2, height // 2
    draw.rectangle((0, 0, half_w - 1, half_h - 1), fill=RED)
    draw.rectangle((half_w, 0, width, half_h - 1), fill=GREEN)
    draw.rectangle((0, half_h, half_w - 1, height), fill=BLUE)
    draw.rectangle((half_w, half_h, width, height), fill=WHITE)
    return im


def gps_exif(orientation: int | None = 6) -> Image.Exif:
    """EXIF as a phone writes it: orientation, camera, GPS position and a maker note."""
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Phone 15"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (52.0, 42.0, 30.5), 3: "W", 4: (2.0, 45.0, 10.25)})
    exif.get_ifd(EXIF_IFD)[MAKER_NOTE] = b"Apple iOS\x00" + bytes(200)
    return exif


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def phone_jpeg(width: int = 400, height: int = 300, orientation: int | None = 6) -> bytes:
    """A JPEG like a phone's: EXIF orientation, GPS, maker note, XMP and a comment."""
    return encode(quadrants(width, height), "JPEG", quality=90, exif=gps_exif(orientation),
                  xmp=XMP, comment=b"taken at 1 Example Street")


def big_phone_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A 12 MP JPEG with orientation 6 and GPS, made without a slow noise pass."""
    im = Image.merge("RGB", [Image.linear_gradient("L").resize((width, height)),
                             Image.radial_gradient("L").resize((width, height)),
                             Image.linear_gradient("L").rotate(90).resize((width, height))])
    return encode(im, "JPEG", quality=85, exif=gps_exif(6))


def huge_exif_jpeg() -> bytes:
    """EXIF at its 64 KiB maximum (maker note, user comment, GPS), XMP, and 30 more APP1s.

    The extra segments are Extended XMP, as some cameras write for depth maps (~2 MB).
    """
    exif = gps_exif(6)
    exif.get_ifd(EXIF_IFD)[MAKER_NOTE] = bytes(range(256)) * 150
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = b"ASCII\x00\x00\x00" + b"x" * 20_000
    data = encode(quadrants(640, 480), "JPEG", quality=90, exif=exif, xmp=XMP + b" " * 60_000)
    signature = b"http://ns.adobe.com/xmp/extension/\x00"
    extra = b"".join(b"\xff\xe1" + struct.pack(">H", 65_000) + signature
                     + bytes(65_000 - 2 - len(signature)) for _ in range(30))
    first_app1 = data.index(b"\xff\xe1")
    after = first_app1 + 2 + struct.unpack(">H", data[first_app1 + 2:first_app1 + 4])[0]
    return data[:after] + extra + data[after:]


def cmyk_jpeg() -> bytes:
    """Print shops send these: pure magenta + yellow, which is red on screen."""
    return encode(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG", quality=95)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def animated_gif() -> bytes:
    frames = [Image.new("P", (32, 32), i) for i in range(3)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def animated_png() -> bytes:
    frames = [Image.new("RGB", (32, 32), color) for color in (RED, GREEN, BLUE)]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:])


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (32, 32), color) for color in (RED, GREEN, BLUE)]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])


def heic(width: int = 640, height: int = 480) -> bytes:
    """An iPhone-style HEIC with GPS EXIF (pillow-heif's x265 encoder)."""
    return encode(quadrants(width, height), "HEIF", quality=80, exif=gps_exif(None))


# -- PNG by hand -------------------------------------------------------------------------------


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png(width: int, height: int, idat: bytes, *, bit_depth: int = 8, colour_type: int = 0,
        extra_chunks: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra_chunks
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def png_bomb(width: int, height: int) -> bytes:
    """An 8-bit grey PNG of zeros: width × height pixels in about 1/1000 of that many bytes."""
    row = bytes(width + 1)  # filter byte 0, then zeros
    rows = max(1, min(height, (1 << 20) // len(row)))
    while height % rows:
        rows -= 1
    compressor = zlib.compressobj(9)
    first = compressor.compress(row * rows) + compressor.flush(zlib.Z_FULL_FLUSH)
    unit = compressor.compress(row * rows) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert first[2:] == unit, "zlib no longer repeats after a full flush"
    final_block = compressor.flush(zlib.Z_FINISH)[:-4]
    total = height * len(row)
    adler = ((total % 65521) << 16) | 1  # Adler-32 of `total` zero bytes
    stream = first + unit * (height // rows - 1) + final_block + struct.pack(">I", adler)
    return png(width, height, stream)


def png16_grey_ramp(width: int = 256, height: int = 8) -> bytes:
    """16-bit grey, left to right 0 → 65535."""
    row = b"".join(struct.pack(">H", x * 65535 // (width - 1)) for x in range(width))
    raw = b"".join(b"\x00" + row for _ in range(height))
    return png(width, height, zlib.compress(raw), bit_depth=16, colour_type=0)


def png16_rgb(colour: tuple[int, int, int], width: int = 32, height: int = 16) -> bytes:
    """16-bit-per-channel RGB (48-bit), which Pillow reads as 8-bit RGB."""
    pixel = struct.pack(">HHH", *colour)
    raw = b"".join(b"\x00" + pixel * width for _ in range(height))
    return png(width, height, zlib.compress(raw), bit_depth=16, colour_type=2)


def png_with_huge_exif(size_bytes: int = 4_000_000) -> bytes:
    """A PNG whose eXIf chunk (orientation 6, GPS, an enormous maker note) is megabytes long."""
    exif = gps_exif(6)
    exif.get_ifd(EXIF_IFD)[MAKER_NOTE] = bytes(size_bytes)
    base = encode(quadrants(300, 200), "PNG")
    chunk = png_chunk(b"eXIf", exif.tobytes())
    at = base.index(b"IDAT") - 4
    return base[:at] + chunk + base[at:]


# -- checks on outputs -------------------------------------------------------------------------


def jpeg_markers(data: bytes) -> list[int]:
    """The marker of every segment up to the start of the scan, e.g. [0xE0, 0xDB, 0xC0, …]."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    markers, at = [], 2
    while at < len(data):
        assert data[at] == 0xFF, f"bad segment at {at}"
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return markers
        at += 2 + struct.unpack(">H", data[at + 2:at + 4])[0]
    raise AssertionError("no start of scan")


def assert_safe_jpeg(data: bytes, size: tuple[int, int] | None = None) -> Image.Image:
    """A publishable JPEG: decodes, right size, RGB, and not a byte of metadata."""
    markers = jpeg_markers(data)
    assert 0xE1 not in markers, "APP1 (EXIF/XMP) segment present"
    assert b"\xff\xe1" not in data, "an FFE1 marker appears in the file"
    assert not set(markers) & {0xE2, 0xED, 0xEE, 0xFE}, f"metadata segment in {markers}"
    assert b"Exif\x00\x00" not in data
    assert b"http://ns.adobe.com/xap" not in data and b"xmpmeta" not in data
    im = Image.open(io.BytesIO(data))
    im.load()
    assert im.format == "JPEG" and im.mode == "RGB"
    if size is not None:
        assert im.size == size
    exif = im.getexif()
    assert len(exif) == 0, dict(exif)
    assert len(exif.get_ifd(GPS_IFD)) == 0
    assert "xmp" not in im.info and "icc_profile" not in im.info and "comment" not in im.info
    return im


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


# -- the samples are what they claim -----------------------------------------------------------


def test_png_bomb_header_and_stream_are_valid() -> None:
    """A small bomb decompresses to exactly the zero rows its header promises."""
    data = png_bomb(1000, 600)
    im = Image.open(io.BytesIO(data))
    assert im.size == (1000, 600) and im.mode == "L"
    im.load()
    assert im.getextrema() == (0, 0)


def test_png_bomb_is_small_for_its_pixels() -> None:
    """144 MP in about 140 KiB (the issue's 137 KiB), 900 MP in under a megabyte."""
    assert len(png_bomb(12_000, 12_000)) < 160 * 1024
    assert len(png_bomb(30_000, 30_000)) < 1024 * 1024


def test_samples_have_the_metadata_the_pipeline_must_remove() -> None:
    """Otherwise the 'no EXIF out' checks would prove nothing."""
    data = phone_jpeg()
    im = Image.open(io.BytesIO(data))
    assert im.getexif()[ORIENTATION] == 6
    assert im.getexif().get_ifd(GPS_IFD)[1] == "N"
    assert b"\xff\xe1" in data and b"xmpmeta" in data
    assert Image.open(io.BytesIO(huge_exif_jpeg())).size == (640, 480)
    assert Image.open(io.BytesIO(png16_grey_ramp())).mode == "I;16"
    assert Image.open(io.BytesIO(cmyk_jpeg())).mode == "CMYK"
