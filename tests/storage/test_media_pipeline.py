"""The pure photo pipeline: every bad input refused with a sentence, every output safe."""

from __future__ import annotations

import io
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile, ImageOps

from storage.errors import MediaRefused
from storage.media.pipeline import (
    MIB,
    PhotoLimits,
    check_photo_bytes,
    check_size_before_download,
    content_hash,
    fit_within,
    process_photo_bytes,
)
from tests.storage.test_media_samples import (
    BLUE,
    GREEN,
    RED,
    WHITE,
    animated_gif,
    animated_png,
    animated_webp,
    assert_safe_jpeg,
    big_phone_jpeg,
    cmyk_jpeg,
    encode,
    gps_exif,
    heic,
    huge_exif_jpeg,
    near,
    phone_jpeg,
    png16_grey_ramp,
    png16_rgb,
    png_bomb,
    png_with_huge_exif,
    quadrants,
    truncated,
)

HYPOTHESIS = settings(max_examples=150, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    return big_phone_jpeg()


@pytest.fixture(scope="module")
def bomb_144mp() -> bytes:
    return png_bomb(12_000, 12_000)


@pytest.fixture(scope="module")
def bomb_900mp() -> bytes:
    return png_bomb(30_000, 30_000)


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if any pixel data is decoded: the refusal must come from the header alone."""
    def load(self: ImageFile.ImageFile) -> None:
        raise AssertionError(f"{self.format} {self.size} was decoded before being refused")
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def refusal(data: bytes, limits: PhotoLimits = PhotoLimits()) -> str:
    with pytest.raises(MediaRefused) as refused:
        process_photo_bytes(data, limits)
    sentence = refused.value.sentence
    assert sentence.endswith(".") and "Traceback" not in sentence and len(sentence) < 200
    return sentence


# -- the safe copy -----------------------------------------------------------------------------


def test_phone_photo_comes_out_resized_upright_and_without_metadata(big_jpeg: bytes) -> None:
    """4000×3000 stored sideways (orientation 6) → 1200×1600 upright; thumb 240×320; no EXIF."""
    photo = process_photo_bytes(big_jpeg)
    assert (photo.width, photo.height) == (1200, 1600)
    assert (photo.thumb_width, photo.thumb_height) == (240, 320)
    assert_safe_jpeg(photo.jpeg, (1200, 1600))
    assert_safe_jpeg(photo.thumb, (240, 320))
    assert photo.format == "JPEG" and photo.bytes_in == len(big_jpeg)
    assert photo.content_hash == content_hash(big_jpeg) and len(photo.content_hash) == 64


def test_orientation_6_turns_the_picture_not_just_the_frame() -> None:
    """Stored landscape with red top-left; shown upright, red is top-right (90° clockwise)."""
    photo = process_photo_bytes(phone_jpeg(400, 300, orientation=6))
    im = assert_safe_jpeg(photo.jpeg, (300, 400))
    assert near(im.getpixel((250, 50)), RED)
    assert near(im.getpixel((50, 50)), BLUE)
    assert near(im.getpixel((250, 350)), GREEN)
    assert near(im.getpixel((50, 350)), WHITE)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillows_reference(orientation: int) -> None:
    """Our transpose after resizing equals Pillow's exif_transpose on the original."""
    data = phone_jpeg(200, 120, orientation=orientation)
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    im = assert_safe_jpeg(process_photo_bytes(data).jpeg, expected.size)
    for x, y in ((10, 10), (expected.width - 10, 10), (10, expected.height - 10),
                 (expected.width - 10, expected.height - 10)):
        assert near(im.getpixel((x, y)), expected.getpixel((x, y))), (x, y)


def test_small_photo_is_not_enlarged() -> None:
    photo = process_photo_bytes(phone_jpeg(400, 300, orientation=1))
    assert (photo.width, photo.height) == (400, 300)
    assert (photo.thumb_width, photo.thumb_height) == (320, 240)


def test_limits_are_configurable() -> None:
    photo = process_photo_bytes(phone_jpeg(400, 300, orientation=1),
                                PhotoLimits(long_edge=200, thumb_edge=50))
    assert (photo.width, photo.height, photo.thumb_width, photo.thumb_height) == (200, 150, 50, 38)


def test_panorama_keeps_its_shape() -> None:
    assert fit_within((20_000, 10), 1600) == (1600, 1)
    assert fit_within((3000, 4000), 1600) == (1200, 1600)
    photo = process_photo_bytes(encode(Image.new("RGB", (6000, 30), RED), "PNG"))
    assert (photo.width, photo.height) == (1600, 8)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_are_accepted(fmt: str) -> None:
    photo = process_photo_bytes(encode(quadrants(2000, 1000), fmt, exif=gps_exif(1)))
    im = assert_safe_jpeg(photo.jpeg, (1600, 800))
    assert near(im.getpixel((100, 100)), RED) and photo.format == fmt


def test_heic_from_an_iphone_is_accepted() -> None:
    """HEIC arrives as a file; it comes out as a plain JPEG with its GPS gone."""
    data = heic(640, 480)
    assert b"ftypheic" in data[:16]
    photo = process_photo_bytes(data)
    assert photo.format == "HEIF"
    im = assert_safe_jpeg(photo.jpeg, (640, 480))
    assert near(im.getpixel((100, 100)), RED, tolerance=60)


def test_heic_orientation_is_applied_once() -> None:
    """libheif applies HEIF's rotation and pillow-heif resets EXIF's: we must not turn it twice."""
    data = encode(quadrants(640, 480), "HEIF", quality=80, exif=gps_exif(6))
    reference = Image.open(io.BytesIO(data)).convert("RGB")
    im = assert_safe_jpeg(process_photo_bytes(data).jpeg, reference.size)
    for x, y in ((100, 100), (reference.width - 100, 100), (100, reference.height - 100)):
        assert near(im.getpixel((x, y)), reference.getpixel((x, y)), tolerance=60)


def test_cmyk_jpeg_becomes_rgb_with_the_right_colour() -> None:
    im = assert_safe_jpeg(process_photo_bytes(cmyk_jpeg()).jpeg, (64, 48))
    assert near(im.getpixel((32, 24)), RED, tolerance=60)


def test_16_bit_grey_png_keeps_its_tones() -> None:
    """0 → 65535 left to right comes out black → white, not clipped to white."""
    im = assert_safe_jpeg(process_photo_bytes(png16_grey_ramp()).jpeg, (256, 8))
    assert im.getpixel((2, 4))[0] < 20
    assert 100 < im.getpixel((128, 4))[0] < 156
    assert im.getpixel((253, 4))[0] > 235


def test_16_bit_rgb_png_keeps_its_colour() -> None:
    im = assert_safe_jpeg(process_photo_bytes(png16_rgb((65535, 32768, 0))).jpeg, (32, 16))
    assert near(im.getpixel((16, 8)), (255, 128, 0))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparency_is_flattened_on_white(mode: str) -> None:
    im = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    im.paste((255, 0, 0, 255), (0, 0, 20, 40))
    if mode == "P":
        data = encode(im.convert("P"), "PNG", transparency=0)
    else:
        data = encode(im.convert(mode), "PNG")
    out = assert_safe_jpeg(process_photo_bytes(data).jpeg, (40, 40))
    assert near(out.getpixel((35, 20)), WHITE)


def test_grey_and_one_bit_images_come_out_rgb() -> None:
    assert_safe_jpeg(process_photo_bytes(encode(Image.new("L", (10, 10), 90), "JPEG")).jpeg)
    assert_safe_jpeg(process_photo_bytes(encode(Image.new("1", (10, 10), 1), "PNG")).jpeg)


def test_srgb_icc_profile_is_applied_and_not_copied() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(Image.new("RGB", (50, 50), (30, 120, 200)), "JPEG", quality=95,
                  icc_profile=icc)
    im = assert_safe_jpeg(process_photo_bytes(data).jpeg, (50, 50))
    assert near(im.getpixel((25, 25)), (30, 120, 200), tolerance=8)


def test_huge_exif_block_is_stripped() -> None:
    """64 KiB EXIF, 30 more APP1 segments and big XMP: processed, nothing survives."""
    data = huge_exif_jpeg()
    assert len(data) > 1_900_000
    photo = process_photo_bytes(data)
    assert_safe_jpeg(photo.jpeg, (480, 640))  # orientation 6 from the real EXIF block
    assert_safe_jpeg(photo.thumb, (240, 320))


def test_png_with_megabytes_of_exif_is_processed() -> None:
    photo = process_photo_bytes(png_with_huge_exif())
    assert_safe_jpeg(photo.jpeg, (200, 300))


def test_same_bytes_same_output() -> None:
    """Deterministic, so two workers storing the same photo at once write identical files."""
    data = phone_jpeg()
    assert process_photo_bytes(data) == process_photo_bytes(data)


# -- refusals ----------------------------------------------------------------------------------


def test_empty_file_is_refused() -> None:
    assert "empty" in refusal(b"")


def test_too_large_is_refused_before_reading_it() -> None:
    sentence = refusal(b"\xff\xd8\xff" + bytes(25 * MIB - 3))
    assert sentence == ("That photo is too large to use (25 MB); the limit is 20 MB. "
                        "Please send a smaller one.")


def test_just_over_the_limit_never_reads_as_the_limit() -> None:
    sentence = refusal(b"\xff\xd8\xff" + bytes(20 * MIB - 2))  # one byte over
    assert "(20.1 MB); the limit is 20 MB" in sentence


def test_check_size_before_download() -> None:
    check_size_before_download(None)
    check_size_before_download(20 * MIB)
    with pytest.raises(MediaRefused, match=r"video is too large to use \(45 MB\)"):
        check_size_before_download(45 * MIB, kind="video")
    with pytest.raises(MediaRefused, match="limit is 5 MB"):
        check_size_before_download(6 * MIB, max_bytes=5 * MIB)


def test_truncated_jpeg_is_refused() -> None:
    sentence = refusal(truncated(phone_jpeg(800, 600)))
    assert "damaged or only partly sent" in sentence


def test_text_renamed_jpg_is_refused() -> None:
    assert "looks like text" in refusal("Meeting notes, café on Tuesday\n".encode() * 20)


@pytest.mark.parametrize(("make", "words"), [
    (animated_gif, "GIF"),
    (animated_png, "animation"),
    (animated_webp, "animation"),
    (lambda: encode(Image.new("RGB", (8, 8)), "BMP"), "BMP"),
    (lambda: encode(Image.new("RGB", (8, 8)), "TIFF"), "TIFF"),
    (lambda: encode(Image.new("RGB", (8, 8)), "AVIF"), "AVIF"),
    (lambda: b"%PDF-1.7\n" + bytes(100), "PDF"),
    (lambda: b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(100), "video"),
    (lambda: bytes(range(256)) * 4, "isn't a photo"),
])
def test_other_kinds_of_file_are_refused_with_what_they_are(make, words: str) -> None:
    assert words in refusal(make())


def test_png_bomb_is_refused_from_its_header(bomb_900mp: bytes, no_decoding: None) -> None:
    """30000×30000 (900 MP, under 1 MB): over Pillow's own hard limit, never decoded."""
    assert "(900 megapixels); the limit is 50 megapixels" in refusal(bomb_900mp)


def test_144_mp_png_is_refused_before_decoding(bomb_144mp: bytes, no_decoding: None) -> None:
    """Under Pillow's hard limit (179 MP), so Pillow would decode it: our limit stops it."""
    assert "(144 megapixels); the limit is 50 megapixels" in refusal(bomb_144mp)


def test_bomb_warning_is_an_error_even_above_our_own_limit(bomb_144mp: bytes,
                                                           no_decoding: None) -> None:
    """Configured above Pillow's 89 MP warning, the warning itself refuses the photo."""
    assert "144 megapixels" in refusal(bomb_144mp, PhotoLimits(max_pixels=500_000_000))


def test_webp_declaring_144_mp_is_refused_before_pillow_builds_its_decoder(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's WebP plugin allocates the whole canvas inside Image.open(): check before."""
    from PIL import WebPImagePlugin

    def no_decoder(*args: object) -> None:
        raise AssertionError("libwebp's decoder was built for a bomb")
    monkeypatch.setattr(WebPImagePlugin._webp, "WebPAnimDecoder", no_decoder)
    for lossless in (False, True):
        small = encode(Image.new("RGB", (16, 16)), "WEBP", lossless=lossless, exif=gps_exif(1))
        assert small[12:16] == b"VP8X"  # extended format, because of the EXIF
        bomb = small[:24] + (11_999).to_bytes(3, "little") * 2 + small[30:]
        assert "(144 megapixels)" in refusal(bomb)
        # Simple lossy (VP8) and lossless (VP8L) files declare their size differently.
        simple = encode(Image.new("RGB", (370, 230)), "WEBP", lossless=lossless)
        assert simple[12:16] == (b"VP8L" if lossless else b"VP8 ")
        assert "(0.09 megapixels)" in refusal(simple, PhotoLimits(max_pixels=80_000))


def test_refusing_a_bomb_changes_no_global_state(bomb_144mp: bytes) -> None:
    filters, limit = list(warnings.filters), Image.MAX_IMAGE_PIXELS
    refusal(bomb_144mp)
    refusal(bomb_144mp, PhotoLimits(max_pixels=500_000_000))
    assert warnings.filters == filters and Image.MAX_IMAGE_PIXELS == limit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Image._decompression_bomb_check((12_000, 12_000))  # still only a warning for others
    assert caught and caught[0].category is Image.DecompressionBombWarning


def test_pixel_limit_is_configurable() -> None:
    data = encode(Image.new("RGB", (300, 200)), "PNG")
    assert "(0.06 megapixels); the limit is 0.05 megapixels" in refusal(
        data, PhotoLimits(max_pixels=50_000))


def test_check_photo_bytes_is_cheap_and_says_the_format() -> None:
    assert check_photo_bytes(phone_jpeg()) == "JPEG"
    assert check_photo_bytes(heic(64, 64)) == "HEIF"


# -- random input ------------------------------------------------------------------------------

_SMALL = {
    "JPEG": phone_jpeg(64, 48),
    "PNG": encode(quadrants(64, 48), "PNG"),
    "WEBP": encode(quadrants(64, 48), "WEBP"),
    "HEIF": heic(64, 48),
}
_MAGICS = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP",
           b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", b"GIF89a", b""]


def only_refused(data: bytes) -> None:
    try:
        photo = process_photo_bytes(data)
    except MediaRefused as refused:
        assert refused.sentence
    else:
        assert_safe_jpeg(photo.jpeg)


@HYPOTHESIS
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise_anything_but_a_refusal(data: bytes) -> None:
    only_refused(data)


@HYPOTHESIS
@given(st.sampled_from(_MAGICS), st.binary(max_size=4096))
def test_random_bytes_behind_a_real_signature(magic: bytes, rest: bytes) -> None:
    only_refused(magic + rest)


@HYPOTHESIS
@given(st.sampled_from(sorted(_SMALL)), st.data())
def test_random_truncations(fmt: str, data: st.DataObject) -> None:
    original = _SMALL[fmt]
    cut = data.draw(st.integers(0, len(original)))
    only_refused(original[:cut])


@HYPOTHESIS
@given(st.sampled_from(sorted(_SMALL)), st.data())
def test_random_corruptions(fmt: str, data: st.DataObject) -> None:
    original = bytearray(_SMALL[fmt])
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(original) - 1))
        original[at] = data.draw(st.integers(0, 255))
    only_refused(bytes(original))


def test_a_report_drawn_in_the_same_process_leaves_truncated_photos_refused() -> None:
    """WeasyPrint turns Pillow's LOAD_TRUNCATED_IMAGES on for the whole process when it is
    imported; the bot draws reports (Slack's /ambassadors report) in the process that takes
    photos, so after a report a partly-sent photo must still be refused."""
    from scheduler.reports.render import html_to_pdf

    assert html_to_pdf("<p>Quarterly report</p>").startswith(b"%PDF")
    sentence = refusal(truncated(phone_jpeg(800, 600)))
    assert "damaged or only partly sent" in sentence
