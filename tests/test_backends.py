"""The test suite's own isolation: each test process keeps its own Redis database number."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.backends import claim_number, prepare


async def test_two_processes_starting_together_never_share_a_redis_number(
    tmp_path: Path,
) -> None:
    """Both read a free number before either wrote it, and both took it: each one's flush at
    a test's start then wiped the other's locks halfway through a test."""
    from redis.asyncio import Redis

    backend = await prepare(tmp_path)
    if backend.redis_url is None:
        pytest.skip("Redis is the PostgreSQL + Redis suite's (PHANANH_TEST_BACKEND=postgres)")
    key = f"claim-test-{os.getpid()}"  # the suite's own claim on this number stays untouched
    first, second = Redis.from_url(backend.redis_url), Redis.from_url(backend.redis_url)
    try:
        for _ in range(20):
            await first.delete(key)
            taken = await asyncio.gather(
                claim_number(first, os.getpid(), key), claim_number(second, os.getppid(), key)
            )
            assert sorted(taken) == [False, True]
        owner = await first.get(key)
        assert owner is not None
        assert await claim_number(first, int(owner), key)  # its own again
    finally:
        await first.delete(key)
        await first.aclose()
        await second.aclose()
