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

from typing import Any, cast

from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage


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
