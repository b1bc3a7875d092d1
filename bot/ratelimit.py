"""Send-rate limits: about 30 messages a second per bot and 20 a minute per group.

See https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this. With Redis
the counters are shared by every worker process; otherwise they are kept in this process.

The bot-wide limit is Telegram's for bulk notifications. An answer to a resident's own update
(the number of the report they have just submitted) does not wait for it, as the wizard's other
answers do not: it is counted (``spend``), so that notifications wait the longer instead.
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

    async def spend(self, chat_id: str, is_group: bool) -> None:
        """Count one message sent without a slot (an answer): it may overdraw the windows."""
        ...


class MemoryRateLimiter:
    """Sliding windows in this process."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._bot: deque[float] = deque()
        self._groups: dict[str, deque[float]] = {}

    @staticmethod
    def _forget(window: deque[float], now: float, span: float) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def _wait(self, window: deque[float], now: float, span: float, limit: int) -> float:
        self._forget(window, now, span)
        return 0.0 if len(window) < limit else window[0] + span - now

    async def reserve(self, chat_id: str, is_group: bool) -> float:
        now = self.clock()
        wait = self._wait(self._bot, now, 1.0, self.limits.per_second)
        group = self._groups.setdefault(chat_id, deque()) if is_group else None
        if group is not None:
            wait = max(wait, self._wait(group, now, 60.0, self.limits.per_group_minute))
        if wait > 0:
            return wait
        self._take(now, chat_id, is_group)
        return 0.0

    async def spend(self, chat_id: str, is_group: bool) -> None:
        self._take(self.clock(), chat_id, is_group)

    def _take(self, now: float, chat_id: str, is_group: bool) -> None:
        """Count a message now; what has left a window goes first (answers alone, which never
        ask ``_wait``, must not grow it for ever)."""
        windows = [(self._bot, 1.0)]
        if is_group:
            windows.append((self._groups.setdefault(chat_id, deque()), 60.0))
        for window, span in windows:
            self._forget(window, now, span)
            window.append(now)


# Fixed windows in Redis, checked and taken atomically for the bot and the group together;
# limits of -1 take them unchecked (spend).
_RESERVE = """
local bot = tonumber(redis.call('GET', KEYS[1]) or '0')
local unchecked = ARGV[1] == '-1'
if not unchecked and bot >= tonumber(ARGV[1]) then return {1, 0} end
if KEYS[2] ~= '' then
  local group = tonumber(redis.call('GET', KEYS[2]) or '0')
  if not unchecked and group >= tonumber(ARGV[2]) then return {2, 0} end
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
        verdict = await self._take(now, chat_id, is_group, checked=True)
        if verdict == 0:
            return 0.0
        if verdict == 1:
            return int(now) + 1 - now
        return (int(now // 60) + 1) * 60 - now

    async def spend(self, chat_id: str, is_group: bool) -> None:
        await self._take(time.time(), chat_id, is_group, checked=False)

    async def _take(self, now: float, chat_id: str, is_group: bool, *, checked: bool) -> int:
        keys = [
            f"{self.prefix}:bot:{int(now)}",
            f"{self.prefix}:group:{chat_id}:{int(now // 60)}" if is_group else "",
        ]
        limits = [self.limits.per_second, self.limits.per_group_minute] if checked else [-1, -1]
        verdict, _ = await self._script(keys=keys, args=limits)
        return int(verdict)
