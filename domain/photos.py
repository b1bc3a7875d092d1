"""Photo processing: no photo is kept or passed on with its metadata, or larger than needed.

A photo as the messenger re-encoded it (Telegram hands a bot JPEGs of at most 1,280 px) that
already stands the right way and is no larger than 1,600 px loses its metadata segments and
keeps its pixels exactly (``domain.jpeg``), never encoded a second time. Every other picture,
and every file sent as it was, is decoded, bounded and re-encoded, which drops all metadata
(EXIF GPS above all), applies the EXIF orientation first so the picture still stands the right
way, and caps the longest side at 1,600 px, which is plenty for a pothole and keeps the media
directory small. Pillow's decompression-bomb guard is kept on.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from typing import BinaryIO

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

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
            if made_by_messenger and _as_it_stands(probe):
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
            if image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            # Bicubic over what is left (at most a factor 2 after the draft): as sharp as
            # Lanczos to the eye at this ratio, at half its cost (bench/photos.py).
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BICUBIC, reducing_gap=2.0)
            image.info.clear()  # comments, ICC, XMP: save() would carry some of them over
            return CleanPhoto(_jpeg(image), image.width, image.height)
    except PhotoRejected:
        raise
    except Image.DecompressionBombError:
        raise PhotoRejected("too-many-pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise PhotoRejected("unreadable") from None


def _as_it_stands(image: Image.Image) -> bool:
    """Whether the picture can be kept pixel for pixel: a JPEG in colours every viewer shows,
    within the size cap, shown as stored (no EXIF rotation)."""
    return (
        image.format == "JPEG"
        and image.mode in ("RGB", "L")
        and max(image.size) <= MAX_SIDE
        and image.getexif().get(ExifTags.Base.Orientation, 1) == 1
    )


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
