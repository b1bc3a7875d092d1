"""python -m bot bounds asyncio.to_thread's threads (photos, media files) at one a core: more
would not go faster, and each keeps a stack and a malloc arena after a burst of photos."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from bot.run import bound_worker_threads


async def test_a_burst_of_blocking_work_uses_at_most_one_thread_a_core() -> None:
    workers = bound_worker_threads()
    assert workers == max(2, os.cpu_count() or 1)

    def busy() -> str:
        time.sleep(0.05)  # a photo being decoded: the GIL released
        return threading.current_thread().name

    names = await asyncio.gather(*(asyncio.to_thread(busy) for _ in range(4 * workers + 8)))
    assert len(set(names)) == workers  # asyncio's own default: cores + 4
