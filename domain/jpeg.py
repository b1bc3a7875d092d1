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
picture of a multi-picture file, an appended archive) is dropped.
"""

from __future__ import annotations

import re

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
# Frames the bot passes on as they are: baseline, extended sequential, progressive (Huffman).
FRAMES = frozenset({0xC0, 0xC1, 0xC2})
# Tables and settings the picture needs: Huffman tables, quantisation tables, restart interval.
TABLES = frozenset({0xC4, 0xDB, 0xDD})
APP0, APP14, APP15, COM = 0xE0, 0xEE, 0xEF, 0xFE
# The compressed data of a scan ends at the first 0xFF that is not followed by a stuffed zero,
# a restart marker or another 0xFF (fill).
_END_OF_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def without_metadata(data: bytes) -> bytes | None:
    """The JPEG ``data`` with every metadata segment and anything after its end dropped, or
    None when it is not a JPEG this can pass on unchanged."""
    size = len(data)
    if size < 4 or data[0] != 0xFF or data[1] != SOI:
        return None
    kept = [b"\xff\xd8"]
    framed = False
    at = 2
    while True:
        if at >= size or data[at] != 0xFF:
            return None
        while at < size and data[at] == 0xFF:  # fill bytes may precede a marker
            at += 1
        if at >= size:
            return None
        marker = data[at]
        start, at = at - 1, at + 1
        if marker == EOI:
            return b"".join(kept) + b"\xff\xd9" if framed else None
        if at + 2 > size:
            return None
        end = at + ((data[at] << 8) | data[at + 1])
        if end < at + 2 or end > size:
            return None
        if marker == SOS:
            if not framed:
                return None
            scan_end = _END_OF_SCAN.search(data, end)
            if scan_end is None:
                return None  # truncated: no marker after the compressed data
            kept.append(data[start : scan_end.start()])
            at = scan_end.start()
            continue
        if marker in FRAMES:
            if framed or end - at < 8 or data[at + 2] != 8:  # one frame, 8 bits a sample
                return None
            framed = True
        elif marker not in TABLES and not _harmless_app(marker, data[at + 2 : end]):
            if APP0 <= marker <= APP15 or marker == COM:
                at = end  # metadata: dropped
                continue
            return None  # a kind of JPEG not passed on as it is
        kept.append(data[start:end])
        at = end


def _harmless_app(marker: int, body: bytes) -> bool:
    """Application segments that hold nothing about the picture's author or place but tell a
    decoder how to read the colours: JFIF without a thumbnail, Adobe's colour transform."""
    if marker == APP0:
        # "JFIF\0", version (2), units (1), density (4), thumbnail width and height (1 + 1).
        return len(body) == 14 and body.startswith(b"JFIF\x00") and body[12:14] == b"\x00\x00"
    if marker == APP14:
        return body.startswith(b"Adobe")
    return False
