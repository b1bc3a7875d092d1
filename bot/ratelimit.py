"""Send-rate limits: about 30 messages a second per bot and 20 a minute per group.

See https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this. With Redis
the counters are shared by every worker process; otherwise they are kept in this process.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # imported with Redis only when REDIS_URL is set (bot.app): ~6 MB
    from redis.asyncio import Redis


@dataclass(frozen=True)
class Limits:
    per_second: int = 30
    per_group_minute: int = 20


class RateLimiter(Protocol):
    async def reserve(self, chat_id: str, is_group: bool) -> float:
        """Take a slot for one message and return 0, or return how long to wait (no slot)."""
        ...


class MemoryRateLimiter:
    """Sliding windows in this process."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._bot: deque[float] = deque()
        self._groups: dict[str, deque[float]] = {}

    @staticmethod
    def _wait(window: deque[float], now: float, span: float, limit: int) -> float:
        while window and window[0] <= now - span:
            window.popleft()
        return 0.0 if len(window) < limit else window[0] + span - now

    async def reserve(self, chat_id: str, is_group: bool) -> float:
        now = self.clock()
        wait = self._wait(self._bot, now, 1.0, self.limits.per_second)
        group = self._groups.setdefault(chat_id, deque()) if is_group else None
        if group is not None:
            wait = max(wait, self._wait(group, now, 60.0, self.limits.per_group_minute))
        if wait > 0:
            return wait
        self._bot.append(now)
        if group is not None:
            group.append(now)
        return 0.0


# Fixed windows in Redis, checked and taken atomically for the bot and the group together.
_RESERVE = """
local bot = tonumber(redis.call('GET', KEYS[1]) or '0')
if bot >= tonumber(ARGV[1]) then return {1, 0} end
if KEYS[2] ~= '' then
  local group = tonumber(redis.call('GET', KEYS[2]) or '0')
  if group >= tonumber(ARGV[2]) then return {2, 0} end
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], 120)
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 5)
return {0, 0}
"""


class RedisRateLimiter:
    """Fixed one-second and one-minute windows in Redis, shared by all workers."""

    def __init__(self, redis: Redis, limits: Limits, prefix: str = "phananh:rate") -> None:
        self.redis = redis
        self.limits = limits
        self.prefix = prefix
        self._script = redis.register_script(_RESERVE)

    async def reserve(self, chat_id: str, is_group: bool) -> float:
        now = time.time()
        second = int(now)
        minute = int(now // 60)
        keys = [
            f"{self.prefix}:bot:{second}",
            f"{self.prefix}:group:{chat_id}:{minute}" if is_group else "",
        ]
        verdict, _ = await self._script(
            keys=keys, args=[self.limits.per_second, self.limits.per_group_minute]
        )
        if int(verdict) == 0:
            return 0.0
        if int(verdict) == 1:
            return second + 1 - now
        return (minute + 1) * 60 - now
