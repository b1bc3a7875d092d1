"""Send-rate limits: about 30 messages a second per bot and 20 a minute per group.

See https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this. With Redis
the counters are shared by every worker process; otherwise they are kept in this process.

An album counts as many messages as it has pictures (Telegram counts each against a group's 20
a minute): a card with five photos takes seven slots (its text, the album, its pin), and counted
as three, a flood day's cards ran a unit's group into 429s and their waits.

The bot-wide limit is Telegram's for bulk notifications. An answer to a resident's own update
(the number of the report they have just submitted) does not wait for it, as the wizard's other
answers do not: it is counted (``spend``), so that notifications wait the longer instead.
"""

from __future__ import annotations

import time
import uuid
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
    async def reserve(self, chat_id: str, is_group: bool, count: int = 1) -> float:
        """Take slots for ``count`` messages (an album's pictures) and return 0, or return how
        long to wait until there is room for them (none taken)."""
        ...

    async def spend(self, chat_id: str, is_group: bool, count: int = 1) -> None:
        """Count messages sent without a slot (an answer): they may overdraw the windows."""
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

    def _wait(self, window: deque[float], now: float, span: float, limit: int, count: int) -> float:
        """How long until ``count`` more fit in the window (more than the limit: until it is
        empty, then they go at once)."""
        self._forget(window, now, span)
        over = len(window) + min(count, limit) - limit
        return 0.0 if over <= 0 else window[over - 1] + span - now

    async def reserve(self, chat_id: str, is_group: bool, count: int = 1) -> float:
        now = self.clock()
        wait = self._wait(self._bot, now, 1.0, self.limits.per_second, count)
        group = self._groups.setdefault(chat_id, deque()) if is_group else None
        if group is not None:
            wait = max(wait, self._wait(group, now, 60.0, self.limits.per_group_minute, count))
        if wait > 0:
            return wait
        self._take(now, chat_id, is_group, count)
        return 0.0

    async def spend(self, chat_id: str, is_group: bool, count: int = 1) -> None:
        self._take(self.clock(), chat_id, is_group, count)

    def _take(self, now: float, chat_id: str, is_group: bool, count: int) -> None:
        """Count messages now; what has left a window goes first (answers alone, which never
        ask ``_wait``, must not grow it for ever)."""
        windows = [(self._bot, 1.0)]
        if is_group:
            windows.append((self._groups.setdefault(chat_id, deque()), 60.0))
        for window, span in windows:
            self._forget(window, now, span)
            window.extend([now] * count)


# Sliding windows in Redis, as MemoryRateLimiter's: a sorted set of the moments messages went,
# for the bot and for each group, checked and taken atomically for both; limits of -1 take
# them unchecked (spend). Returns how long to wait, as text (Lua numbers reach Redis as
# integers), "0" when a slot was taken.
_RESERVE = """
local now = tonumber(ARGV[3])
local count = tonumber(ARGV[5])
local checked = ARGV[1] ~= '-1'
local wait = 0
local function full(key, span, limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  if not checked then return end
  local over = redis.call('ZCARD', key) + math.min(count, limit) - limit
  if over > 0 then
    local oldest = redis.call('ZRANGE', key, over - 1, over - 1, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + span - now)
  end
end
local function take(key, ttl)
  for i = 1, count do redis.call('ZADD', key, now, ARGV[4] .. ':' .. i) end
  redis.call('EXPIRE', key, ttl)
end
full(KEYS[1], 1, tonumber(ARGV[1]))
if KEYS[2] ~= '' then full(KEYS[2], 60, tonumber(ARGV[2])) end
if wait > 0 then return tostring(wait) end
take(KEYS[1], 2)
if KEYS[2] ~= '' then take(KEYS[2], 61) end
return '0'
"""


class RedisRateLimiter:
    """Sliding windows in Redis, shared by all workers. Fixed windows let a group have its
    20 a minute at :59.9 and 20 more at :00.1, and Telegram answered the second 20 with 429s
    and long waits."""

    def __init__(
        self,
        redis: Redis,
        limits: Limits,
        prefix: str = "phananh:rate",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.limits = limits
        self.prefix = prefix
        self.clock = clock  # the workers' clocks, kept by NTP: a few ms apart at most
        self._script = redis.register_script(_RESERVE)

    async def reserve(self, chat_id: str, is_group: bool, count: int = 1) -> float:
        return await self._take(chat_id, is_group, count, checked=True)

    async def spend(self, chat_id: str, is_group: bool, count: int = 1) -> None:
        await self._take(chat_id, is_group, count, checked=False)

    async def _take(self, chat_id: str, is_group: bool, count: int, *, checked: bool) -> float:
        keys = [
            f"{self.prefix}:bot",
            f"{self.prefix}:group:{chat_id}" if is_group else "",
        ]
        limits = [self.limits.per_second, self.limits.per_group_minute] if checked else [-1, -1]
        args: list[str | int] = [*limits, repr(self.clock()), uuid.uuid4().hex, count]
        wait = await self._script(keys=keys, args=args)
        return float(wait)
