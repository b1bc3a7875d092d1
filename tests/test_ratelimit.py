"""Send-rate limits (bot.ratelimit): a bot's messages a second and a group's a minute, in this
process (memory, on a clock of the test's) and shared by workers (Redis, on the PostgreSQL +
Redis run's Redis)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.ratelimit import Limits, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from tests.backends import prepare

LIMITS = Limits(per_second=3, per_group_minute=2)


async def limited(limiter: RateLimiter) -> list[bool]:
    """Which of these reservations got a slot (True) or a wait (False)."""
    got = []
    for chat, is_group in [("-1", True), ("-1", True), ("-1", True), ("-2", True), ("5", False)]:
        got.append(await limiter.reserve(chat, is_group) == 0.0)
    return got


async def spent(limiter: RateLimiter) -> list[bool]:
    """Four answers spent in the bot's three a second (none waits), then a reservation."""
    for _ in range(4):
        await limiter.spend("5", False)
    return [await limiter.reserve("6", False) == 0.0]


EXPECTED = [
    True,
    True,
    False,  # the group's two a minute are taken
    True,  # another group has its own minute
    False,  # the bot's three a second are taken (two by the first group, one by the second)
]


async def test_memory_keeps_the_bot_a_second_and_a_group_a_minute() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(LIMITS, clock=lambda: now[0])
    assert await limited(limiter) == EXPECTED
    now[0] += 1.0  # a second later: the bot has slots again, the first group not yet
    assert await limiter.reserve("5", False) == 0.0
    assert await limiter.reserve("-1", True) == pytest.approx(59.0)
    now[0] += 59.0
    assert await limiter.reserve("-1", True) == 0.0


async def test_memory_counts_answers_without_making_them_wait() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(LIMITS, clock=lambda: now[0])
    assert await spent(limiter) == [False]
    now[0] += 1.0  # the answers have left the window
    assert await limiter.reserve("6", False) == 0.0
    assert len(limiter._bot) == 1


async def on_redis(
    tmp_path: Path, prefix: str, play: Callable[[RateLimiter], Awaitable[list[bool]]]
) -> list[bool]:
    """``play`` on a Redis limiter (the PostgreSQL + Redis run's Redis), all within one of the
    clock's seconds, which are its windows."""
    backend = await prepare(tmp_path)
    if backend.redis_url is None:
        pytest.skip("the SQLite run has no Redis: the PostgreSQL + Redis run checks this one")
    from redis.asyncio import Redis

    redis = Redis.from_url(backend.redis_url)
    try:
        for attempt in range(5):
            limiter = RedisRateLimiter(redis, LIMITS, prefix=f"{prefix}:{attempt}")
            second = int(time.time())
            got = await play(limiter)
            if int(time.time()) == second:
                break
        return got
    finally:
        await redis.aclose()


async def test_redis_windows_slide_as_the_memory_ones_do(tmp_path: Path) -> None:
    """Fixed windows let a group have its messages of a minute at :59.9 and as many again at
    :00.1, twice Telegram's limit; the memory limiter's windows slide, and so do these."""
    now = [1_800_000_059.9]  # a tenth of a second before a minute begins
    async with redis_limiter(tmp_path, Limits(per_second=1000, per_group_minute=2), now) as limiter:
        assert [await limiter.reserve("-1", True) for _ in range(2)] == [0.0, 0.0]
        now[0] += 0.2  # the next minute
        assert await limiter.reserve("-1", True) == pytest.approx(59.8)
        now[0] += 59.8
        assert await limiter.reserve("-1", True) == 0.0


@contextlib.asynccontextmanager
async def redis_limiter(
    tmp_path: Path, limits: Limits, now: list[float]
) -> AsyncIterator[RedisRateLimiter]:
    """A Redis limiter (the PostgreSQL + Redis run's Redis) on the clock ``now[0]``."""
    backend = await prepare(tmp_path)
    if backend.redis_url is None:
        pytest.skip("the SQLite run has no Redis: the PostgreSQL + Redis run checks this one")
    from redis.asyncio import Redis

    redis = Redis.from_url(backend.redis_url)
    try:
        yield RedisRateLimiter(redis, limits, f"test:{uuid.uuid4().hex}", lambda: now[0])
    finally:
        await redis.aclose()


async def test_redis_keeps_the_bot_a_second_and_a_group_a_minute(tmp_path: Path) -> None:
    assert await on_redis(tmp_path, "test:rate", limited) == EXPECTED


async def test_redis_counts_answers_without_making_them_wait(tmp_path: Path) -> None:
    assert await on_redis(tmp_path, "test:spent", spent) == [False]


async def album(limiter: RateLimiter, now: list[float]) -> list[float]:
    """A group of 20 a minute: a card (1), its album of 10 pictures, a pin (1), then another
    card's album of 10, which must wait for the first card's messages to leave the minute."""
    waits = [await limiter.reserve("-1", True, count) for count in (1, 10, 1)]
    now[0] += 30.0
    waits.append(await limiter.reserve("-1", True, 10))
    waits.append(await limiter.reserve("-1", True, 8))  # room for eight: at once
    return waits


async def test_an_albums_pictures_take_a_slot_each() -> None:
    """Telegram counts each picture of an album against a group's 20 a minute: counted as one
    message, a flood day's cards with photos ran a unit's group into 429s."""
    now = [1000.0]
    limiter = MemoryRateLimiter(Limits(per_second=1000, per_group_minute=20), clock=lambda: now[0])
    assert await album(limiter, now) == [0.0, 0.0, 0.0, pytest.approx(30.0), 0.0]


async def test_redis_takes_a_slot_for_each_picture_of_an_album(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    limits = Limits(per_second=1000, per_group_minute=20)
    async with redis_limiter(tmp_path, limits, now) as limiter:
        assert await album(limiter, now) == [0.0, 0.0, 0.0, pytest.approx(30.0), 0.0]
