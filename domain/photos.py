"""Photo processing: no photo is kept or passed on with its metadata, or larger than needed.

A photo as the messenger re-encoded it (Telegram hands a bot JPEGs of at most 1,280 px) that
already stands the right way and is no larger than 1,600 px loses its metadata segments and
keeps its pixels exactly (``domain.jpeg``), never encoded a second time. Every other picture,
and every file sent as it was, is decoded, bounded and re-encoded, which drops all metadata
(EXIF GPS above all), applies the EXIF orientation first so the picture still stands the right
way, converts colours tagged with another profile than sRGB's (Display P3, Adobe RGB, CMYK) to
sRGB, since the profile goes with the metadata, and caps the longest side at 1,600 px, which is
plenty for a pothole and keeps the media directory small. Pillow's decompression-bomb guard is
kept on.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from typing import BinaryIO, cast

from PIL import ExifTags, Image, ImageChops, ImageCms, ImageOps, UnidentifiedImageError

from domain.jpeg import without_metadata

MAX_SIDE = 1600
MAX_INPUT_BYTES = 20 * 1024 * 1024  # Telegram's getFile limit for bots
MAX_PIXELS = 50_000_000  # well above a 48 MP phone camera, far below a bomb
JPEG_QUALITY = 85


class PhotoRejected(Exception):
    """The bytes are not a usable photo; ``reason`` is a locale key suffix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes
    width: int
    height: int


def clean_photo(raw: bytes, *, made_by_messenger: bool = False) -> CleanPhoto:
    """The photo to keep. ``made_by_messenger``: the bytes are the messenger's own encoding
    (Telegram re-encodes every photo it hands a bot), which decodes and whose tables are the
    messenger's, so a JPEG of them may be kept as it stands. A file sent as it was is always
    decoded and encoded again: its tables tell the camera or the editor that made it, and
    bytes hidden inside its compressed data would pass a segment-by-segment cleaning."""
    if not raw:
        raise PhotoRejected("empty")
    if len(raw) > MAX_INPUT_BYTES:
        raise PhotoRejected("too-big")
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise PhotoRejected("too-many-pixels")
            to_srgb = _to_srgb(probe)  # built once, for either path
            if made_by_messenger and to_srgb is None and _as_it_stands(probe):
                stripped = without_metadata(raw)
                if stripped is not None:
                    return CleanPhoto(stripped, probe.width, probe.height)
            # A JPEG decodes at 1/2, 1/4 or 1/8 scale almost for free: ask for the smallest
            # version still at least as large as the result, instead of decoding all 12 MP.
            ratio = MAX_SIDE / max(probe.width, probe.height)
            if ratio < 1:  # (a side of 1 px stays 1 px: a draft of 0 px divides by zero)
                size = (max(1, round(probe.width * ratio)), max(1, round(probe.height * ratio)))
                probe.draft(None, size)
            probe.load()
            image: Image.Image = probe
            ImageOps.exif_transpose(image, in_place=True)  # no copy of every pixel
            # A PNG's alpha or palette, say, or one colour of it marked transparent (tRNS).
            if image.mode not in ("RGB", "L", "CMYK") or "transparency" in image.info:
                image = _in_8_bits(image)  # (its profile is kept in its info)
                to_srgb = _to_srgb(image)
            # Bicubic over what is left (at most a factor 2 after the draft): as sharp as
            # Lanczos to the eye at this ratio, at half its cost (bench/photos.py).
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BICUBIC, reducing_gap=2.0)
            # Colours converted once the picture is at its final size, as libvips's thumbnail
            # does: a 12 MP Display P3 photo 131 -> 105 ms (~75 of it without a profile).
            image = _in_srgb(image, to_srgb)
            if image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            image.info.clear()  # comments, ICC, XMP: save() would carry some of them over
            return CleanPhoto(_jpeg(image), image.width, image.height)
    except PhotoRejected:
        raise
    except Image.DecompressionBombError:
        raise PhotoRejected("too-many-pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise PhotoRejected("unreadable") from None


def _in_8_bits(image: Image.Image) -> Image.Image:
    """The picture as the JPEG will hold it: 8-bit RGB or grey, without transparency.

    A plain conversion drops the alpha channel, which shows what was under the transparent
    parts (a dark sign cut out on a transparent background came out all black), and clips
    16-bit levels at 255 (a 16-bit scan came out all white). So a transparent picture is laid
    on white, as a browser or an image viewer shows it, 16-bit levels are scaled down, and
    floating-point ones taken from 0.0 (black) to 1.0 (white). Any other picture (a palette,
    black and white, ...) is converted as it is."""
    if image.mode in _SIXTEEN_BITS:
        # Pillow converts only 32-bit integers by a formula: 0..65535 to 0..255, rounded.
        levels = image.convert("I").point(lambda v: v / 257 + 0.5).convert("L")
        if "transparency" not in image.info:
            return levels
        # One level marked transparent (tRNS): laid on white as well (its alpha, from "LA").
        ground = Image.new("L", image.size, "white")
        ground.paste(levels, mask=image.convert("LA").getchannel("A"))
        ground.info = dict(image.info)
        return ground
    if image.mode == "F":
        low, high = cast(tuple[float, float], image.getextrema())
        if low < 0 or high > 1:  # not levels of 0 to 1: from its darkest to its lightest
            scale = 255 / (high - low) if high > low else 0.0
            return image.point(lambda v: (v - low) * scale + 0.5).convert("L")
        return image.point(lambda v: v * 255 + 0.5).convert("L")
    if image.mode in _WITH_ALPHA or "transparency" in image.info:
        grey = image.mode in ("LA", "La", "L")
        with_alpha = image.convert("LA" if grey else "RGBA")
        ground = Image.new("L" if grey else "RGB", image.size, "white")
        ground.paste(with_alpha.convert(ground.mode), mask=with_alpha.getchannel("A"))
        ground.info = dict(image.info)  # its colour profile, for _to_srgb
        return ground
    return image.convert("RGB")


# Pillow's modes of 16-bit levels ("I", 32-bit integers, taken as 16-bit levels: older Pillows
# open a 16-bit PNG so), and with an alpha channel ("RGBa", "La": premultiplied, as a TIFF's
# "associated" alpha is).
_SIXTEEN_BITS = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_WITH_ALPHA = ("RGBA", "RGBa", "LA", "La", "PA")


def _as_it_stands(image: Image.Image) -> bool:
    """Whether the picture can be kept pixel for pixel: a JPEG in colours every viewer shows
    (the caller has seen that its colour profile, which goes with the metadata, needs no
    conversion), within the size cap, shown as stored (no EXIF rotation)."""
    return (
        image.format == "JPEG"
        and image.mode in ("RGB", "L")
        and max(image.size) <= MAX_SIDE
        and image.getexif().get(ExifTags.Base.Orientation, 1) == 1
    )


def _in_srgb(image: Image.Image, transform: ImageCms.ImageCmsTransform | None) -> Image.Image:
    """The picture in sRGB, the colours a viewer assumes of a picture without a profile, by
    ``transform`` (:func:`_to_srgb`'s for it).

    Every profile is dropped with the metadata, so a photo tagged with another one (Display
    P3 from iPhones, Adobe RGB from cameras, a CMYK press profile) would show its colours
    wrong, duller or shifted: its pixels are converted by its profile first. Without one, with
    sRGB's (or one equal to it), or with one that cannot be read, the picture is as it was.
    Grey pictures stay as they are: a grey profile changes little but the tone curve."""
    if transform is None:
        return image
    converted = ImageCms.applyTransform(image, transform)
    assert converted is not None  # None only when converting in place
    return converted


def _to_srgb(image: Image.Image) -> ImageCms.ImageCmsTransform | None:
    """The conversion of ``image``'s colours to sRGB by its embedded profile, or None when
    there is nothing to convert (see _in_srgb)."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "CMYK") or not _harmless(icc):
        return None
    key = (hashlib.sha256(icc).digest(), image.mode)
    if key in _NOTHING_TO_CONVERT:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        transform = ImageCms.buildTransform(profile, _srgb(), image.mode, "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        transform = None  # unreadable, or not a profile for this kind of picture: as it is
    if transform is None or (image.mode == "RGB" and _changes_nothing(transform)):
        if len(_NOTHING_TO_CONVERT) >= _KNOWN_PROFILES:
            _NOTHING_TO_CONVERT.clear()
        _NOTHING_TO_CONVERT.add(key)
        return None
    return transform


def _harmless(icc: object) -> bool:
    """Whether an embedded profile may be handed to LittleCMS: bytes (a TIFF's tag may hold a
    number or text instead), of a sane size, whose tags hold no floating-point pipelines
    (D2Bx/B2Dx, type "mpet"). The stages of those may all point at one element, so a profile
    of a few hundred bytes makes minutes of CPU and gigabytes of memory of one conversion
    (found by review: an 868-byte PNG took 82 s). Phones, cameras and printers' profiles
    (matrices and curves, or 8/16-bit tables) do not use them. Any other: ignored, as an
    unreadable profile is."""
    if not isinstance(icc, bytes) or not _TAG_TABLE <= len(icc) <= MAX_PROFILE_BYTES:
        return False
    count = int.from_bytes(icc[_PROFILE_HEADER:_TAG_TABLE], "big")
    end = _TAG_TABLE + 12 * count  # an entry: signature, offset, size (4 bytes each)
    if count > MAX_PROFILE_TAGS or end > len(icc):
        return False
    for entry in range(_TAG_TABLE, end, 12):
        signature = icc[entry : entry + 4]
        offset = int.from_bytes(icc[entry + 4 : entry + 8], "big")
        if signature[:3] in (b"D2B", b"B2D") or icc[offset : offset + 4] == b"mpet":
            return False
    return True


_PROFILE_HEADER = 128  # bytes before the tag count
_TAG_TABLE = _PROFILE_HEADER + 4  # where the tag table starts, after the count
MAX_PROFILE_BYTES = 4 * 1024 * 1024  # a press profile is up to ~3 MB; a phone's a few kB
MAX_PROFILE_TAGS = 100


# The profiles (by digest) seen to need no conversion: the sRGB profile a phone or a messenger
# tags every photo with is read and tried once (~2.4 ms), not for each photo.
_NOTHING_TO_CONVERT: set[tuple[bytes, str]] = set()
_KNOWN_PROFILES = 256


def _changes_nothing(transform: ImageCms.ImageCmsTransform) -> bool:
    """Whether a conversion leaves colours as they are (a profile that is sRGB's, by any
    name): tried on a few hundred colours, not on the whole picture."""
    sample = _colour_sample()
    converted = ImageCms.applyTransform(sample, transform)
    assert converted is not None
    # An RGB picture's extremes: (low, high) for each channel.
    extremes = cast(
        tuple[tuple[int, int], ...], ImageChops.difference(sample, converted).getextrema()
    )
    return all(high <= 2 for _, high in extremes)


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@functools.cache
def _colour_sample() -> Image.Image:
    """Eight levels of each channel, every combination: 512 colours, corners of the gamut
    included."""
    levels = (0, 36, 73, 109, 146, 182, 219, 255)
    sample = Image.new("RGB", (64, 8))
    sample.putdata([(r, g, b) for r in levels for g in levels for b in levels])
    return sample


def _jpeg(image: Image.Image) -> bytes:
    """The image encoded as JPEG. Into a file, not a BytesIO: Pillow encodes into a file with
    the GIL released, into a BytesIO holding it (~4 ms of a 1280 px photo during which the
    bot's event loop, in the other thread, stood still)."""
    try:
        out = _scratch()
    except OSError:  # no memfd (an old kernel, a sandbox) and no temporary file: hold the GIL
        out = io.BytesIO()
    with out:
        # No exif=, no icc_profile=: nothing of the original's metadata is carried over.
        # No optimize=: Huffman optimisation is a second pass over the data for ~5 % fewer
        # bytes, and costs a third of the encoding time on the bot's busiest path.
        image.save(out, format="JPEG", quality=JPEG_QUALITY)
        out.seek(0)
        return out.read()


def _scratch() -> BinaryIO:
    """A file in memory (Linux), else an anonymous temporary file; gone when closed."""
    if not hasattr(os, "memfd_create"):
        return tempfile.TemporaryFile()
    fd = os.memfd_create("photo", os.MFD_CLOEXEC)
    try:
        return open(fd, "w+b")
    except BaseException:
        os.close(fd)
        raise
