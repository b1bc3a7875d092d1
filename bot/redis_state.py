"""A conversation's state and data in Redis, read in one round trip and written in one.

aiogram's RedisStorage keeps a conversation as two keys, its state and its data, and its
FSMContext reads and writes them one call at a time: four round trips an update that reads the
draft and writes it back, on the busiest path of a worker (besides the lock's two). This reads
both keys with one MGET and writes both in one MULTI/EXEC, in RedisStorage's own keys, format
and expiry, so RedisStorage, its event isolation and this read each other's writes. It needs
one Redis server (as docker-compose.yml runs), not a Redis Cluster, where the two keys would
lie in different slots and a command over both is refused (CROSSSLOT).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any, cast

from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from storage.media_sweep import keys_in

log = logging.getLogger(__name__)

# How long a resident's lock outlives a worker that died holding it (the resident's next
# update waits that long); a live worker renews it every third of it, however long its update.
LOCK_TTL = 15.0  # seconds
RENEW_RETRY = 1.0  # seconds before a renewal that met an error is tried again


class RedisConversationState:
    def __init__(self, storage: RedisStorage, key: StorageKey) -> None:
        self.storage = storage
        self.state_key = storage.key_builder.build(key, "state")
        self.data_key = storage.key_builder.build(key, "data")

    async def get(self) -> tuple[str | None, dict[str, object]]:
        state, data = await self.storage.redis.mget(self.state_key, self.data_key)
        step = _text(state)
        loaded = _text(data)
        return step, (cast(dict[str, object], self.storage.json_loads(loaded)) if loaded else {})

    async def set(self, step: str | None, data: dict[str, object]) -> None:
        storage = self.storage
        async with storage.redis.pipeline(transaction=True) as pipe:
            # As RedisStorage.set_state and set_data: no state or no data, no key.
            if step is None:
                pipe.delete(self.state_key)
            else:
                pipe.set(self.state_key, step, ex=storage.state_ttl)
            if data:
                pipe.set(self.data_key, storage.json_dumps(data), ex=storage.data_ttl)
            else:
                pipe.delete(self.data_key)
            await pipe.execute()

    async def clear(self) -> None:
        await self.storage.redis.delete(self.state_key, self.data_key)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RenewedRedisIsolation(RedisEventIsolation):
    """aiogram's RedisEventIsolation (one update of a resident at a time, across workers), with
    the lock renewed while the update runs. aiogram's lasts 60 s, never renewed: an update
    that took longer (a slow Telegram: each call may wait 60 s, and is retried) let another
    worker handle the resident's next update beside it, racing on the draft, and then failed
    on releasing a lock it no longer held. Renewed, the lock can be short: a worker that dies
    keeps its residents waiting LOCK_TTL, not a minute."""

    def __init__(self, storage: RedisStorage, ttl: float = LOCK_TTL) -> None:
        super().__init__(storage.redis, storage.key_builder, {"timeout": ttl})
        self.ttl = ttl

    @contextlib.asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        name = self.key_builder.build(key, "lock")
        held = self.redis.lock(name=name, timeout=self.ttl, lock_class=Lock)
        if not await held.acquire():
            raise LockError(f"could not take the resident's lock {name}")
        renewing = asyncio.create_task(self._renew(held))
        try:
            yield None
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            await _release(held)

    async def _renew(self, held: Lock) -> None:
        pause = self.ttl / 3
        while True:
            await asyncio.sleep(pause)
            try:
                await held.reacquire()
            except LockError:  # lapsed all the same (this process stalled): said once
                log.warning("a resident's lock %s lapsed while its update ran", held.name)
                return
            except Exception:  # Redis away a moment: tried again soon, before it lapses
                log.warning("could not renew a resident's lock %s", held.name, exc_info=True)
                pause = min(self.ttl / 3, RENEW_RETRY)
            else:
                pause = self.ttl / 3


async def _release(held: Lock) -> None:
    """Leave the lock. One that lapsed meanwhile (the process stalled, Redis lost the key, or
    was away for longer than the lock lasts) is said, not raised: the update is done and its
    work committed, and raising made it a failure (the resident told their message could not
    be handled, or a webhook answered 500, holding up the chat's next updates)."""
    try:
        await held.release()
    except LockError:
        log.warning("a resident's lock %s had lapsed when its update ended", held.name)
    except Exception:  # Redis away: the lock lapses by itself within its time
        log.warning("could not release a resident's lock %s", held.name, exc_info=True)


async def draft_media(storage: RedisStorage, bot_id: int) -> set[str]:
    """The media keys the bot's drafts in Redis name (for the media sweep: storage.media_sweep).
    Read with SCAN, a page at a time, beside the workers' own commands."""
    builder = storage.key_builder
    if not isinstance(builder, DefaultKeyBuilder) or not builder.with_bot_id:
        raise TypeError("drafts are found by DefaultKeyBuilder(with_bot_id=True)'s keys")
    pattern = builder.separator.join([builder.prefix, str(bot_id), "*", "data"])
    keys: set[str] = set()
    page: list[Any] = []

    async def read(names: list[Any]) -> None:
        for value in await storage.redis.mget(names):
            text = _text(value)
            if text:
                keys.update(keys_in(text))

    async for name in storage.redis.scan_iter(match=pattern, count=1000):
        page.append(name)
        if len(page) >= 500:
            await read(page)
            page = []
    if page:
        await read(page)
    return keys
