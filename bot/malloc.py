"""Large buffers go back to the system when freed (glibc's malloc, set once at start).

glibc serves a request above its mmap threshold (128 KiB at first) with a mapping of its own,
unmapped when freed. But each time such a block is freed it raises the threshold to that
block's size (up to 32 MiB), so after the first photo the pixel buffers (~5 MB for a 1280 px
photo, more for a 12 MP one) came from the heap and the photo threads' arenas, where freeing
them rarely gave anything back: the idle bot kept ~24 MB more after a few seconds of reports
(bench/memory.py). Setting the threshold pins it: blocks of 4 MiB and more (pixel buffers)
are always mapped apart and freed at once. Not lower: at 256 KiB, mapping and unmapping the
many blocks between that and 4 MiB cost ~15 % of the end-to-end rate. Python's own objects
(small, in pymalloc's arenas) are not concerned.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD = 4 * 1024 * 1024


def pin_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Pin glibc's mmap threshold at ``threshold`` bytes; False where the C library is not
    glibc (musl, macOS: their allocators return large blocks by themselves)."""
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols, libc's among them
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(M_MMAP_THRESHOLD, threshold) != 1:
        log.info("could not set malloc's mmap threshold to %d", threshold)
        return False
    return True
