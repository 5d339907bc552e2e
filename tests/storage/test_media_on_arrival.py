"""What a photo can be refused for as it arrives, from its header alone (issue 22), and how a
refusal names the file it is about, so someone who sent several knows which one."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from storage.errors import MediaRefused
from storage.media import check_photo_header, naming, process_photo_bytes

HEADS = [b"", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBPVP8 ",
         b"\x00\x00\x00\x18ftypheic", b"\x00\x00\x00\x18ftypmp42", b"GIF89a", b"%PDF-1.7",
         b"BM", b"II*\x00", b"Minutes of the meeting "]


def encoded(size: tuple[int, int], fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB" if fmt == "JPEG" else "1", size).save(out, fmt)
    return out.getvalue()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(head=st.sampled_from(HEADS), rest=st.binary(max_size=600))
def test_any_bytes_are_passed_or_refused_with_a_sentence_naming_the_file(head, rest) -> None:
    """Whatever arrives: a size, or a refusal whose sentence, said of “x.bin”, starts with
    the name (not "That …", nor the name stuck before a sentence about something else)."""
    try:
        width, height = check_photo_header(head + rest)
    except MediaRefused as refusal:
        said = naming(refusal.sentence, "“x.bin”")
        assert said.startswith("“x.bin” ") and not said.startswith("“x.bin”: ")
        assert "That" not in said.split(".")[0]
    else:
        assert width > 0 and height > 0


@pytest.mark.parametrize("kept", ["all of it", "its first 256 bytes"])
def test_a_picture_too_big_to_open_is_refused_from_its_header_alone(kept: str) -> None:
    """Cut after 256 bytes (the signature, the header and the start of some 17 kB of pixel
    data) the file is refused with the same sentence: nothing past the header is read, so
    no pixel is decoded, however large the picture says it is."""
    huge = encoded((12000, 12000), "PNG")
    assert len(huge) > 50 * 256
    with pytest.raises(MediaRefused) as refused:
        check_photo_header(huge if kept == "all of it" else huge[:256])
    assert naming(refused.value.sentence, "“big.png”") == (
        "“big.png” is too big to open (144 megapixels); the limit is 50 megapixels. "
        "Please send a smaller photo.")


def test_what_passes_on_arrival_is_what_processing_takes() -> None:
    photo = encoded((1200, 900), "JPEG")
    assert check_photo_header(photo) == (1200, 900)
    assert process_photo_bytes(photo).width == 1200


@pytest.mark.parametrize("sentence, said", [
    ("That file isn't a photo (it looks like text).", "“a.txt” isn't a photo (it looks like text)."),
    ("That's a PDF document, not a photo.", "“a.txt” is a PDF document, not a photo."),
    ("That looks like a video, not a photo.", "“a.txt” looks like a video, not a photo."),
    ("Lots of photos are being prepared right now.",
     "“a.txt”: Lots of photos are being prepared right now.")])
def test_naming(sentence, said) -> None:
    assert naming(sentence, "“a.txt”") == said
