import io

import pytest
from PIL import Image

from domain.photos import MAX_SIDE, PhotoRejected, clean_photo


def jpeg_with_gps(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° when shown
    gps = {1: "N", 2: (21.0, 1.0, 43.0), 3: "E", 4: (105.0, 51.0, 8.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_photo_loses_its_gps_and_all_metadata() -> None:
    raw = jpeg_with_gps(400, 300)
    assert b"Exif" in raw
    clean = clean_photo(raw)
    with Image.open(io.BytesIO(clean.data)) as image:
        assert not image.getexif()
        assert "exif" not in image.info
    assert b"Exif" not in clean.data


def test_photo_keeps_its_orientation_after_cleaning() -> None:
    clean = clean_photo(jpeg_with_gps(400, 300))
    assert (clean.width, clean.height) == (300, 400)


def test_large_photo_is_scaled_to_the_cap() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4000, 3000)).save(out, format="PNG")
    clean = clean_photo(out.getvalue())
    assert max(clean.width, clean.height) == MAX_SIDE


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"not an image at all", "unreadable"),
        (b"\xff\xd8\xff\xe0trunc", "unreadable"),
    ],
)
def test_bad_images_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PhotoRejected) as refused:
        clean_photo(raw)
    assert refused.value.reason == reason


def test_decompression_bomb_is_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG")
    with pytest.raises(PhotoRejected) as refused:
        clean_photo(out.getvalue())
    assert refused.value.reason == "too-many-pixels"


def test_jpeg_comments_do_not_survive_cleaning() -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 200)).save(out, format="JPEG", comment=b"home of Lan, 12 Hang Bai")
    assert b"home of Lan" in out.getvalue()
    assert b"home of Lan" not in clean_photo(out.getvalue()).data


def test_a_photo_is_cleaned_where_no_scratch_file_can_be_had(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The encoding goes into an in-memory file (the GIL released meanwhile); without one (an
    old kernel, a sandbox, no descriptors left) into memory as before, not refused."""
    import os
    import tempfile

    def refused(*_: object, **__: object) -> None:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "memfd_create", refused, raising=False)
    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    clean = clean_photo(jpeg_with_gps(400, 300))
    assert b"Exif" not in clean.data and clean.data.startswith(b"\xff\xd8")
