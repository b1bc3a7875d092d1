import io
import struct
from typing import Any, cast

import pytest
from PIL import Image, ImageCms, ImageDraw

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


def test_a_photo_one_pixel_wide_is_scaled_not_failed() -> None:
    out = io.BytesIO()
    Image.new("RGB", (1, 4000), "gray").save(out, format="JPEG")
    clean = clean_photo(out.getvalue())
    assert (clean.width, clean.height) == (1, MAX_SIDE)


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


# --- A photo as Telegram hands it: metadata dropped, pixels kept exactly ------------------------


def telegram_photo(mode: str = "RGB", **options: object) -> bytes:
    """A 640x480 JPEG with every kind of metadata a phone or an editor writes into one."""
    image = Image.radial_gradient("L").resize((640, 480))
    if mode == "RGB":
        image = Image.merge(
            "RGB", (image, image.rotate(90), image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
        )
    exif = Image.Exif()
    exif[0x0112] = 1  # orientation: as stored
    exif[0x010F] = "Phone maker"
    exif[0x8825] = {1: "N", 2: (21.0, 1.0, 43.0), 3: "E", 4: (105.0, 51.0, 8.0)}
    out = io.BytesIO()
    image.save(
        out,
        format="JPEG",
        exif=exif,
        icc_profile=b"ICC_PROFILE of the phone",
        xmp=b"<x:xmpmeta>Lan, 12 Hang Bai</x:xmpmeta>",
        comment=b"home of Lan",
        **options,
    )
    return out.getvalue()


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.mode, image.size, image.tobytes()


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("RGB", {}),
        ("RGB", {"progressive": True}),
        ("RGB", {"restart_marker_blocks": 4}),
        ("L", {"quality": 60}),
    ],
)
def test_a_photo_within_the_cap_keeps_every_pixel_and_loses_its_metadata(
    mode: str, options: dict[str, object]
) -> None:
    raw = telegram_photo(mode, **options) + b"PK\x03\x04 an archive appended to the picture"
    clean = clean_photo(raw, made_by_messenger=True)
    assert pixels(clean.data) == pixels(raw)  # not encoded a second time
    assert (clean.width, clean.height) == (640, 480)
    for secret in (b"Exif", b"Phone maker", b"ICC_PROFILE", b"Lan", b"PK\x03\x04"):
        assert secret in raw
        assert secret not in clean.data
    assert clean.data.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(clean.data)) as image:
        assert not image.getexif()
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(image.info)


def with_segment(raw: bytes, marker: int, body: bytes) -> bytes:
    """``raw`` with one more segment right after its start-of-image marker."""
    return raw[:2] + bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body + raw[2:]


@pytest.mark.parametrize("rgb", [False, True], ids=["ycbcr", "rgb-components"])
def test_a_thumbnail_in_the_jfif_header_is_dropped_with_it(rgb: bool) -> None:
    """A JFIF header may carry a thumbnail (of the picture before it was cropped, say). The
    header itself stays: it tells a decoder the colours are YCbCr, and without it a picture
    whose components are named R, G and B is decoded as RGB, every colour wrong."""
    thumbnail = bytes([1, 1]) + b"\xfe\xed\xfa"  # 1x1, one RGB pixel
    jfif = b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01" + thumbnail
    raw = with_segment(telegram_photo(keep_rgb=rgb), 0xE0, jfif)
    clean = clean_photo(raw, made_by_messenger=True)
    assert b"\xfe\xed\xfa" not in clean.data
    assert pixels(clean.data) == pixels(raw)


def test_an_adobe_header_keeps_only_its_colour_fields() -> None:
    adobe = b"Adobe\x00\x64\x00\x00\x00\x00\x01" + b"home of Lan, 12 Hang Bai"
    raw = with_segment(telegram_photo(), 0xEE, adobe)
    clean = clean_photo(raw, made_by_messenger=True)
    assert b"Lan" not in clean.data
    assert pixels(clean.data) == pixels(raw)


def test_fill_bytes_after_the_picture_are_not_kept() -> None:
    """A run of 0xFF before a marker is padding a decoder skips: nothing to pass on."""
    raw = telegram_photo()
    padded = raw[:-2] + b"\xff" * 100_000 + raw[-2:]
    clean = clean_photo(padded, made_by_messenger=True)
    assert len(clean.data) < len(raw)
    assert pixels(clean.data) == pixels(raw)


def test_a_file_well_formed_but_not_decodable_is_still_refused() -> None:
    """Sent as a file: segments in order but no picture (no scan), or a component quantised
    with a table the file does not have. Refused as unreadable: a file is always decoded."""
    raw = telegram_photo()
    no_scan = raw[: raw.index(b"\xff\xda")] + b"\xff\xd9"
    frame = raw.index(b"\xff\xc0")
    missing_table = bytearray(raw)
    missing_table[frame + 12] = 3  # the first component's quantisation table: never defined
    for broken in (no_scan, bytes(missing_table)):
        with pytest.raises(PhotoRejected) as refused:
            clean_photo(broken)
        assert refused.value.reason == "unreadable"


def test_a_photo_cut_short_is_still_refused() -> None:
    raw = telegram_photo()
    with pytest.raises(PhotoRejected) as refused:
        clean_photo(raw[: len(raw) * 2 // 3], made_by_messenger=True)
    assert refused.value.reason == "unreadable"


def test_a_jpeg_not_passed_on_as_it_is_is_encoded_again() -> None:
    """Arithmetic coding (which not every viewer reads), a second picture (a multi-picture
    file), CMYK colours: decoded and encoded as a plain JPEG."""
    from domain.jpeg import without_metadata

    raw = telegram_photo()
    arithmetic = raw.replace(b"\xff\xc0", b"\xff\xc9", 1)
    assert without_metadata(arithmetic) is None
    assert without_metadata(raw[:-2]) is None  # no end-of-image marker
    assert without_metadata(raw) is not None
    comments = b"\xff\xfe\x00\x02" * 2000  # empty comments
    assert without_metadata(raw[:2] + comments + raw[2:]) is None  # not a camera's JPEG

    out = io.BytesIO()
    first, second = Image.new("RGB", (300, 200), "red"), Image.new("RGB", (300, 200), "blue")
    first.save(out, format="MPO", save_all=True, append_images=[second])
    clean = clean_photo(out.getvalue(), made_by_messenger=True)
    assert clean.data.count(b"\xff\xd8") == 1 and b"MPF" not in clean.data

    out = io.BytesIO()
    Image.new("CMYK", (300, 200), (0, 255, 255, 0)).save(out, format="JPEG")
    with Image.open(io.BytesIO(clean_photo(out.getvalue(), made_by_messenger=True).data)) as image:
        assert image.mode == "RGB"


def test_a_file_sent_as_it_was_is_encoded_again() -> None:
    """A file's quantisation tables are its camera's or its editor's, and bytes can hide in
    its compressed data: only the messenger's own re-encoding is kept as it stands."""
    raw = telegram_photo(quality=95)
    as_file = clean_photo(raw)
    as_photo = clean_photo(raw, made_by_messenger=True)
    with Image.open(io.BytesIO(raw)) as sent, Image.open(io.BytesIO(as_file.data)) as kept:
        assert kept.quantization != sent.quantization  # type: ignore[attr-defined]
    assert pixels(as_photo.data) == pixels(raw)
    assert b"Exif" not in as_file.data and b"Lan" not in as_file.data


# Display P3's primaries (adapted to the D50 white of profiles), as iPhones tag their photos.
P3_PRIMARIES = {
    b"rXYZ": (0.5151, 0.2412, -0.0011),
    b"gXYZ": (0.2920, 0.6922, 0.0419),
    b"bXYZ": (0.1571, 0.0666, 0.7841),
}


def profile_bytes(primaries: dict[bytes, tuple[float, float, float]] | None = None) -> bytes:
    """An ICC profile: sRGB's, or sRGB's with other primaries (its curves, white and name
    kept, so only what it says of the colours tells it from sRGB)."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    data[84:100] = bytes(16)  # the profile's checksum: "not computed"
    for i in range(int.from_bytes(data[128:132], "big")):
        entry = 132 + 12 * i
        tag, offset = bytes(data[entry : entry + 4]), int.from_bytes(data[entry + 4 : entry + 8])
        if primaries and tag in primaries:
            for k, value in enumerate(primaries[tag]):
                start = offset + 8 + 4 * k
                data[start : start + 4] = round(value * 65536).to_bytes(4, "big", signed=True)
    return bytes(data)


def tagged_photo(icc: bytes, size: tuple[int, int] = (320, 240)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 60, 40)).save(out, format="JPEG", quality=95, icc_profile=icc)
    return out.getvalue()


def centre(data: bytes) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as image:
        assert "icc_profile" not in image.info
        middle = (image.width // 2, image.height // 2)
        return tuple(image.convert("RGB").getpixel(middle))  # type: ignore[arg-type]


def in_srgb(colour: tuple[int, int, int], icc: bytes) -> tuple[int, ...]:
    """What a colour-managed viewer shows of ``colour`` in a picture tagged ``icc``."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    target = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    shown = ImageCms.profileToProfile(Image.new("RGB", (1, 1), colour), source, target)
    assert shown is not None
    return tuple(shown.getpixel((0, 0)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("made_by_messenger", "size"),
    [(False, (320, 240)), (True, (320, 240)), (False, (2400, 1800))],
    ids=["file", "telegram", "file-scaled-down"],
)
def test_a_photo_in_another_colour_space_is_converted_before_its_profile_goes(
    made_by_messenger: bool, size: tuple[int, int]
) -> None:
    """Every profile goes with the metadata: a Display P3 photo (iPhones) whose pixels were
    kept as they are would then be shown as sRGB, duller. Its colours are converted first, to
    what a colour-managed viewer showed of the original."""
    p3 = profile_bytes(P3_PRIMARIES)
    raw = tagged_photo(p3, size)
    expected = in_srgb(centre_of(raw), p3)
    assert max(abs(a - b) for a, b in zip(expected, centre_of(raw), strict=True)) > 10
    clean = clean_photo(raw, made_by_messenger=made_by_messenger)
    assert max(clean.width, clean.height) == min(max(size), MAX_SIDE)
    assert max(abs(a - b) for a, b in zip(centre(clean.data), expected, strict=True)) <= 3
    assert b"acsp" not in clean.data  # no profile left in it


def test_a_photo_tagged_srgb_keeps_its_pixels() -> None:
    raw = tagged_photo(profile_bytes())
    clean = clean_photo(raw, made_by_messenger=True)
    assert pixels(clean.data) == pixels(raw)
    assert b"acsp" not in clean.data


def centre_of(raw: bytes) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(raw)) as image:
        return centre_of_image(image.convert("RGB"))


def centre_of_image(image: Image.Image) -> tuple[int, int, int]:
    r, g, b = image.getpixel((image.width // 2, image.height // 2))  # type: ignore[misc]
    return r, g, b


def test_a_screenshot_in_display_p3_is_converted_too() -> None:
    """iPhones take screenshots as PNG with an alpha channel, tagged Display P3."""
    p3 = profile_bytes(P3_PRIMARIES)
    out = io.BytesIO()
    Image.new("RGBA", (320, 240), (200, 60, 40, 255)).save(out, format="PNG", icc_profile=p3)
    clean = clean_photo(out.getvalue())
    expected = in_srgb((200, 60, 40), p3)
    assert max(abs(a - b) for a, b in zip(centre(clean.data), expected, strict=True)) <= 3


def with_tag(icc: bytes, signature: bytes, body: bytes) -> bytes:
    """``icc`` with one more tag, its body at the end."""
    count = int.from_bytes(icc[128:132], "big")
    table_end = 132 + 12 * count
    entries = bytearray()
    for entry in range(132, table_end, 12):
        offset = int.from_bytes(icc[entry + 4 : entry + 8], "big") + 12  # the new entry's room
        entries += icc[entry : entry + 4] + offset.to_bytes(4, "big") + icc[entry + 8 : entry + 12]
    data = icc[table_end:] + bytes(-len(icc) % 4)
    at = table_end + 12 + len(data)
    entries += signature + at.to_bytes(4, "big") + len(body).to_bytes(4, "big")
    out = icc[4:128] + (count + 1).to_bytes(4, "big") + entries + data + body
    return (len(out) + 4).to_bytes(4, "big") + out


def float_pipeline(stages: int) -> bytes:
    """An "mpet" tag body: ``stages`` matrix stages, every one the same element."""
    matrix = b"matf" + bytes(4) + struct.pack(">HH", 3, 3) + struct.pack(">12f", *[0.5] * 12)
    first = 16 + 8 * stages
    table = struct.pack(">II", first, len(matrix)) * stages
    return b"mpet" + bytes(4) + struct.pack(">HHI", 3, 3, stages) + table + matrix


def test_a_profile_with_floating_point_pipelines_is_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Such a pipeline's stages may all point at one element: a profile of a few hundred
    bytes then takes minutes of CPU and gigabytes of memory to convert (an 868-byte PNG took
    82 s). No phone or camera makes them; the profile is ignored, as an unreadable one is."""
    built: list[object] = []
    real = ImageCms.buildTransform

    def spy(*args: Any, **kwargs: Any) -> ImageCms.ImageCmsTransform:
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ImageCms, "buildTransform", spy)
    crafted = with_tag(profile_bytes(P3_PRIMARIES), b"D2B0", float_pipeline(40))
    for made_by_messenger in (False, True):
        clean = clean_photo(tagged_photo(crafted), made_by_messenger=made_by_messenger)
        assert b"mpet" not in clean.data
    assert built == []
    clean_photo(tagged_photo(profile_bytes(P3_PRIMARIES)))  # the same without it is converted
    assert len(built) == 1


def tiff_with_profile_typed(field_type: int, value: bytes) -> bytes:
    """A TIFF whose ICC profile tag (34675) has another TIFF type than UNDEFINED: Pillow then
    gives a number or text as the picture's profile."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 40)).save(out, format="TIFF", icc_profile=b"x" * 16)
    data = bytearray(out.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry : entry + 2])[0] == 34675:
            data[entry + 2 : entry + 12] = struct.pack("<HI", field_type, 1) + value.ljust(4, b"\0")
            return bytes(data)
    raise AssertionError("no ICC profile tag")


@pytest.mark.parametrize(
    ("field_type", "value"), [(3, b"\x05\x00"), (4, b"\x07\x00\x00\x00"), (2, b"a\0")]
)
def test_a_profile_that_is_not_bytes_is_ignored(field_type: int, value: bytes) -> None:
    raw = tiff_with_profile_typed(field_type, value)
    with Image.open(io.BytesIO(raw)) as image:
        assert not isinstance(image.info.get("icc_profile"), bytes)
    clean = clean_photo(raw)
    assert (clean.width, clean.height) == (64, 48)


def cmyk_profile() -> bytes:
    """A small CMYK printer profile: to Lab by an 8-bit table of 2x2x2x2 points (ink darkens,
    cyan turns the colour blue-green, magenta red, yellow yellow)."""

    def s15(value: float) -> bytes:
        return round(value * 65536).to_bytes(4, "big", signed=True)

    table = bytearray()
    for c in (0, 1):
        for m in (0, 1):
            for y in (0, 1):
                for k in (0, 1):
                    lightness = 255 - 60 * (c + m + y) - 70 * k
                    table += bytes(
                        [max(0, lightness), 128 - 40 * c + 50 * m, max(0, 128 - 30 * c + 60 * y)]
                    )
    identity = b"".join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    lut = b"mft1" + bytes(4) + bytes([4, 3, 2, 0]) + identity
    lut += bytes(range(256)) * 4 + bytes(table) + bytes(range(256)) * 3
    white = b"XYZ " + bytes(4) + s15(0.9642) + s15(1.0) + s15(0.8249)
    tags = [(b"wtpt", white), (b"A2B0", lut)]
    offset, table_bytes, data = 132 + 12 * len(tags), b"", b""
    for signature, body in tags:
        table_bytes += signature + (offset + len(data)).to_bytes(4, "big")
        table_bytes += len(body).to_bytes(4, "big")
        data += body + bytes(-len(body) % 4)
    header = b"lcms" + (0x02100000).to_bytes(4, "big") + b"prtrCMYKLab " + bytes(12) + b"acsp"
    header += bytes(24) + bytes(4) + s15(0.9642) + s15(1.0) + s15(0.8249) + bytes(48)
    body = header + len(tags).to_bytes(4, "big") + table_bytes + data
    return (len(body) + 4).to_bytes(4, "big") + body


def test_a_cmyk_photo_with_a_profile_is_converted_by_it() -> None:
    icc = cmyk_profile()
    out = io.BytesIO()
    Image.new("CMYK", (320, 240), (40, 160, 20, 10)).save(
        out, format="JPEG", quality=95, icc_profile=icc
    )
    raw = out.getvalue()
    with Image.open(io.BytesIO(raw)) as image:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        shown = ImageCms.profileToProfile(image, source, target, outputMode="RGB")
        assert shown is not None
        expected = centre_of_image(shown)
        plain = centre_of_image(image.convert("RGB"))  # what dropping the profile shows
    assert max(abs(a - b) for a, b in zip(expected, plain, strict=True)) > 10
    clean = clean_photo(raw)
    assert max(abs(a - b) for a, b in zip(centre(clean.data), expected, strict=True)) <= 3
    assert b"acsp" not in clean.data


# --- A picture with transparency or more than 8 bits, sent as a file -------------------------


def encoded(image: Image.Image, file_format: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=file_format, **options)
    return out.getvalue()


def sign_on_transparency(kind: str) -> bytes:
    """A dark sign on a transparent background (a cut-out, a scan exported by an app), whose
    hidden background is black, as an editor leaves it."""
    if kind in ("P-png", "P-gif"):  # a palette, its first colour (black) marked transparent
        image = Image.new("P", (400, 300), 0)
        image.putpalette([0, 0, 0, 30, 30, 30])
        ImageDraw.Draw(image).rectangle((100, 80, 300, 220), fill=1)
        return encoded(image, kind[2:].upper(), transparency=0)
    if kind in ("RGB-png", "L-png"):  # no alpha channel: one colour (black) marked transparent
        grey = kind == "L-png"
        plain = Image.new("L" if grey else "RGB", (400, 300), 0 if grey else (0, 0, 0))
        ImageDraw.Draw(plain).rectangle((100, 80, 300, 220), fill=30 if grey else (30, 30, 30))
        return encoded(plain, "PNG", transparency=0 if grey else (0, 0, 0))
    if kind == "I;16-png":  # a 16-bit grey scan, black marked transparent
        deep = Image.new("I;16", (400, 300), 0)
        ImageDraw.Draw(deep).rectangle((100, 80, 300, 220), fill=30 * 257)
        return encoded(deep, "PNG", transparency=0)
    image = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((100, 80, 300, 220), fill=(30, 30, 30, 255))
    if kind == "LA-png":
        return encoded(image.convert("LA"), "PNG")
    return encoded(image, kind.removeprefix("RGBA-").upper())


def grey_at(data: bytes, x: int, y: int) -> int:
    with Image.open(io.BytesIO(data)) as image:
        return cast(int, image.convert("L").getpixel((x, y)))


@pytest.mark.parametrize(
    "kind",
    ["RGBA-png", "RGBA-webp", "LA-png", "P-png", "P-gif", "RGB-png", "L-png", "I;16-png"],
)
def test_a_sign_on_a_transparent_background_keeps_its_picture(kind: str) -> None:
    """A plain conversion dropped the transparency and showed the black under it: the sign
    was stored all black. Laid on white, as a browser shows it. A PNG without an alpha
    channel can mark one colour transparent (its tRNS chunk): it was taken as it stood."""
    clean = clean_photo(sign_on_transparency(kind))
    assert grey_at(clean.data, 5, 5) >= 250  # the background
    assert abs(grey_at(clean.data, 200, 150) - 30) <= 3  # the sign


def test_a_half_transparent_part_is_blended_with_white() -> None:
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 128))  # black, half see-through
    clean = clean_photo(encoded(image, "PNG"))
    assert abs(grey_at(clean.data, 100, 50) - 127) <= 3


def grey_ramp(mode: str, white: float) -> Image.Image:
    """Left to right from black (0) to white (``white``), 256 px wide."""
    image = Image.new(mode, (256, 64))
    image.putdata([x * white / 255 for _ in range(64) for x in range(256)])
    return image


@pytest.mark.parametrize(
    ("mode", "white", "file_format"),
    [
        ("I;16", 65535, "PNG"),  # scanners
        ("I;16", 65535, "TIFF"),
        ("I;16B", 65535, "TIFF"),
        ("I", 65535, "TIFF"),  # 32-bit integers holding 16-bit levels
        ("F", 1.0, "TIFF"),  # floating point, levels of 0 to 1
        ("F", 1000.0, "TIFF"),  # in some other unit: from its darkest to its lightest
    ],
    ids=[
        "16-bit-png",
        "16-bit-tiff",
        "16-bit-big-endian-tiff",
        "32-bit-tiff",
        "float",
        "float-1000",
    ],
)
def test_a_grey_picture_of_more_than_8_bits_keeps_its_tones(
    mode: str, white: float, file_format: str
) -> None:
    """A plain conversion clipped every level above 255 of 65,535: a 16-bit scan was stored
    all white (and a float one all black)."""
    raw = encoded(grey_ramp(mode, white), file_format)
    with Image.open(io.BytesIO(raw)) as sent:
        assert sent.mode == mode
    clean = clean_photo(raw)
    for x in (0, 64, 128, 192, 255):
        assert abs(grey_at(clean.data, x, 32) - x) <= 3, x
