"""glibc's mmap threshold pinned at start (bot.malloc): a freed photo-sized buffer does not
raise it, so the next one is mapped apart again and handed back when freed."""

from __future__ import annotations

import ctypes
import os
import platform

import pytest

from tests.process import run_python

NEXT_BUFFER = """
import ctypes, sys
from bot.malloc import pin_mmap_threshold

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "pin":
    assert pin_mmap_threshold()
size = 5_000_000  # a 1280 px photo's pixels
before = libc.mallinfo2().hblks
libc.free(libc.malloc(size))  # unpinned, freeing it raises the threshold above its size
block = libc.malloc(size)
print(libc.mallinfo2().hblks - before)  # 1: mapped apart; 0: taken from the heap
libc.free(block)
"""


def _glibc_with_mallinfo2() -> bool:
    if platform.libc_ver()[0] != "glibc":
        return False
    return hasattr(ctypes.CDLL(None), "mallinfo2")


# glibc's own behaviour (the second half of the test) is what these settings change.
TUNED = [name for name in ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_") if os.environ.get(name)]


@pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="needs glibc 2.33+ (mallinfo2)")
@pytest.mark.skipif(bool(TUNED), reason=f"malloc tuned in the environment: {TUNED}")
async def test_a_photo_sized_buffer_is_mapped_apart_again_after_one_was_freed() -> None:
    assert (await run_python(NEXT_BUFFER, "pin")).strip() == "1"
    assert (await run_python(NEXT_BUFFER, "as-is")).strip() == "0"  # glibc's own behaviour
