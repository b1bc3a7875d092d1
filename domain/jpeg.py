"""A JPEG's metadata removed without decoding it: the segments that carry metadata are dropped.

A JPEG is a list of segments (a marker, then its length and content), the compressed picture
following the start-of-scan segments. Camera, place and time (EXIF, GPS within it), XMP, ICC
profiles, the multi-picture index, embedded thumbnails and comments all live in application
(APPn) and comment segments; the picture itself does not need them. Dropping them, as
``jpegtran -copy none`` does, keeps every pixel as it was (no second lossy encoding) and costs a
scan of the bytes instead of a decoding and an encoding.

Only what the bot can hand on with confidence is taken: 8-bit baseline, extended or progressive
Huffman-coded pictures, well formed up to the end-of-image marker. Anything else (arithmetic
coding, lossless or hierarchical JPEG, a truncated file, an unknown segment) gives None, and the
caller decodes and re-encodes instead. Whatever follows the end-of-image marker (a second
picture of a multi-picture file, an appended archive) is dropped, and so are fill bytes; a JFIF
header loses its thumbnail and an Adobe one anything past its fields. What this cannot see:
bytes someone placed on purpose between a scan's compressed data and the next marker, which
decoders skip; only a decoding tells them from the picture.
"""

from __future__ import annotations

import re

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
# Frames the bot passes on as they are: baseline, extended sequential, progressive (Huffman).
FRAMES = frozenset({0xC0, 0xC1, 0xC2})
# Tables and settings the picture needs: Huffman tables, quantisation tables, restart interval.
TABLES = frozenset({0xC4, 0xDB, 0xDD})
APP0, APP14, APP15, COM = 0xE0, 0xEE, 0xEF, 0xFE
# A camera's JPEG has a few dozen segments, a progressive one a few more: beyond this many, the
# file is not a photo as cameras and messengers write them (and the loop would hold the GIL).
MAX_SEGMENTS = 1000
# The compressed data of a scan ends at the first 0xFF that is not followed by a stuffed zero,
# a restart marker or another 0xFF (fill).
_END_OF_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def without_metadata(data: bytes) -> bytes | None:
    """The JPEG ``data`` with every metadata segment and anything after its end dropped, or
    None when it is not a JPEG this can pass on unchanged. The result is not decoded here:
    bytes well formed segment by segment may still not decode, so the caller takes it only for
    a messenger's own encoding (domain.photos)."""
    size = len(data)
    if size < 4 or data[0] != 0xFF or data[1] != SOI:
        return None
    kept = [b"\xff\xd8"]
    framed = scanned = False
    at = 2
    for _ in range(MAX_SEGMENTS):
        if at >= size or data[at] != 0xFF:
            return None
        while at < size and data[at] == 0xFF:  # fill bytes may precede a marker: not kept
            at += 1
        if at >= size:
            return None
        marker = data[at]
        start, at = at - 1, at + 1
        if marker == EOI:
            return b"".join(kept) + b"\xff\xd9" if scanned else None
        if at + 2 > size:
            return None
        end = at + ((data[at] << 8) | data[at + 1])
        if end < at + 2 or end > size:
            return None
        body = data[at + 2 : end]
        if marker == SOS:
            if not framed:
                return None
            scan_end = _END_OF_SCAN.search(data, end)
            if scan_end is None:
                return None  # truncated: no marker after the compressed data
            # Compressed data never ends in 0xFF (one would be stuffed): those are fill.
            kept.append(data[start : scan_end.start()].rstrip(b"\xff"))
            scanned = True
            at = scan_end.start()
            continue
        if marker in FRAMES:
            if framed or len(body) < 6 or body[0] != 8:  # one frame, 8 bits a sample
                return None
            framed = True
            kept.append(data[start:end])
        elif marker in TABLES:
            kept.append(data[start:end])
        elif marker == APP0 and body.startswith(b"JFIF\x00"):
            # Kept, for it tells a decoder the colours are YCbCr, but without its thumbnail.
            if len(body) < 12:
                return None
            kept.append(_segment(APP0, body[:12] + b"\x00\x00"))
        elif marker == APP14 and body.startswith(b"Adobe"):
            # Kept, for its colour transform, but only the fields a decoder reads.
            if len(body) < 12:
                return None
            kept.append(_segment(APP14, body[:12]))
        elif not (APP0 <= marker <= APP15 or marker == COM):
            return None  # a kind of JPEG not passed on as it is
        # else metadata: dropped
        at = end
    return None


def _segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(body) + 2).to_bytes(2, "big") + body
