"""Conversation state in Redis (the PostgreSQL + Redis deployment)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey

from bot.app import App, build_app
from bot.redis_state import RenewedRedisIsolation
from bot.settings import Settings
from tests.backends import prepare

STAGING_BOT = "222222222:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
CITY_BOT = "333333333:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
RESIDENT = 6_000_000_001  # a person who writes to both bots


def isolation_over(lock: object, ttl: float) -> RenewedRedisIsolation:
    """A RenewedRedisIsolation whose every lock is ``lock`` (a stand-in for redis-py's)."""

    class Storage:
        key_builder = DefaultKeyBuilder()

        class redis:
            @staticmethod
            def lock(**kwargs: Any) -> object:
                return lock

    return RenewedRedisIsolation(Storage(), ttl=ttl)  # type: ignore[arg-type]


def key(app: App) -> StorageKey:
    return StorageKey(bot_id=app.bot.id, chat_id=RESIDENT, user_id=RESIDENT)


@contextlib.asynccontextmanager
async def two_bots(tmp_path: Path) -> AsyncIterator[tuple[App, App]]:
    """A staging bot and the city's bot (or two cities') on one database and one Redis."""
    backend = await prepare(tmp_path)
    if backend.redis_url is None:
        pytest.skip("the SQLite run has no Redis: the PostgreSQL + Redis run checks this one")
    settings = Settings(
        _env_file=None,
        bot_token=None,
        telegram_api_url="http://127.0.0.1:9",  # neither bot is asked anything here
        data_dir=tmp_path / "data",
        database_url=backend.database_url,
        redis_url=backend.redis_url,
    )
    staging = await build_app(settings, token=STAGING_BOT, schedule=False)
    city = await build_app(settings, token=CITY_BOT, schedule=False)
    try:
        yield staging, city
    finally:
        await staging.close()
        await city.close()


async def test_two_bots_on_one_redis_keep_their_own_conversations(tmp_path: Path) -> None:
    """A resident who writes to both must not find the other bot's half-written report in the
    one he opens."""
    async with two_bots(tmp_path) as (staging, city):
        await staging.dispatcher.storage.set_state(key(staging), "r:text")
        await staging.dispatcher.storage.set_data(key(staging), {"key": "draft"})
        assert await city.dispatcher.storage.get_state(key(city)) is None
        assert await city.dispatcher.storage.get_data(key(city)) == {}
        assert await staging.dispatcher.storage.get_state(key(staging)) == "r:text"


async def test_two_bots_on_one_redis_have_their_own_send_limits(tmp_path: Path) -> None:
    """Telegram's limits are a bot's own: a staging bot sending its 30 messages a second on the
    city bot's Redis must not make the city's bot wait."""
    async with two_bots(tmp_path) as (staging, city):
        for _ in range(5):  # the three calls within one of the clock's seconds, the windows
            second = int(time.time())
            for _ in range(staging.settings.send_rate_per_second):
                await staging.sender.limiter.spend("6000000001", False)
            waits = (
                await staging.sender.limiter.reserve("6000000002", False),
                await city.sender.limiter.reserve("6000000002", False),
            )
            if int(time.time()) == second:
                break
        assert waits[0] > 0  # the staging bot has spent its second
        assert waits[1] == 0.0  # the city's has not


async def test_a_conversation_read_and_written_in_one_round_trip_is_aiograms_own(
    tmp_path: Path,
) -> None:
    """RedisConversationState reads both keys at once and writes both in one transaction, in
    RedisStorage's keys, format and expiry: each reads what the other wrote."""
    backend = await prepare(tmp_path)
    if backend.redis_url is None:
        pytest.skip("the SQLite run has no Redis: the PostgreSQL + Redis run checks this one")
    from datetime import timedelta

    from aiogram.fsm.storage.redis import RedisStorage

    from bot.redis_state import RedisConversationState

    storage = RedisStorage.from_url(
        backend.redis_url, state_ttl=timedelta(days=2), data_ttl=timedelta(days=2)
    )
    key = StorageKey(bot_id=333333333, chat_id=RESIDENT, user_id=RESIDENT)
    ours = RedisConversationState(storage, key)
    try:
        assert await ours.get() == (None, {})
        draft: dict[str, object] = {"key": "d1", "photos": ["a"], "text": "Ổ gà"}
        await ours.set("r:photos", draft)
        assert await storage.get_state(key) == "r:photos"
        assert await storage.get_data(key) == draft
        assert 0 < await storage.redis.ttl(ours.data_key) <= 2 * 86400
        assert 0 < await storage.redis.ttl(ours.state_key) <= 2 * 86400

        await storage.set_state(key, "r:place")
        await storage.set_data(key, {"key": "d2"})
        assert await ours.get() == ("r:place", {"key": "d2"})

        await ours.set(None, {})  # as RedisStorage: no state and no data leave no keys
        assert await storage.redis.exists(ours.state_key, ours.data_key) == 0
        await ours.set("r:text", {"key": "d3"})
        await ours.clear()
        assert await storage.get_state(key) is None and await storage.get_data(key) == {}
    finally:
        await storage.redis.delete(ours.state_key, ours.data_key)
        await storage.close()


async def test_a_residents_lock_is_kept_however_long_their_update_runs(tmp_path: Path) -> None:
    """Two workers' locks on one resident, made short here (0.6 s): an update that runs
    longer (1.5 s: a slow Telegram) keeps it, and the other worker's update for the resident
    waits for it. aiogram's lock lapsed after its time: both ran at once, racing on the draft,
    and the slow one failed on releasing a lock it no longer held."""
    import asyncio

    from aiogram.fsm.storage.redis import RedisStorage

    from bot.redis_state import RenewedRedisIsolation

    backend = await prepare(tmp_path)
    if backend.redis_url is None:
        pytest.skip("the SQLite run has no Redis: the PostgreSQL + Redis run checks this one")
    one, other = (RedisStorage.from_url(backend.redis_url) for _ in range(2))
    first, second = (RenewedRedisIsolation(storage, ttl=0.6) for storage in (one, other))
    resident = StorageKey(bot_id=333333333, chat_id=RESIDENT, user_id=RESIDENT)
    inside: list[str] = []
    together: list[bool] = []

    async def slow() -> None:
        async with first.lock(resident):
            inside.append("slow")
            await asyncio.sleep(1.5)
            together.append(len(inside) > 1)
            inside.remove("slow")

    async def next_one() -> None:
        await asyncio.sleep(0.2)
        async with second.lock(resident):
            together.append(len(inside) > 0)

    try:
        await asyncio.wait_for(asyncio.gather(slow(), next_one()), 10)
    finally:
        await one.close()
        await other.close()
    assert together == [False, False]


async def test_one_redis_hiccup_neither_stops_the_renewal_nor_fails_the_update() -> None:
    """A renewal that met Redis away a moment (not a lapsed lock) ended the renewals for good,
    and its error failed the update, handled to its end, as it left its lock."""
    import asyncio

    from redis.exceptions import ConnectionError as RedisConnectionError

    class Blinking:  # a lock whose first renewal meets a connection error
        name = "lock"
        renewals = 0

        async def reacquire(self) -> bool:
            Blinking.renewals += 1
            if Blinking.renewals == 1:
                raise RedisConnectionError("Redis blinked")
            return True

        async def acquire(self) -> bool:
            return True

        async def release(self) -> None:
            return None

    isolation = isolation_over(Blinking(), ttl=0.3)
    async with isolation.lock(StorageKey(bot_id=1, chat_id=2, user_id=2)):
        await asyncio.sleep(0.6)  # renewals due every 0.1 s
    assert Blinking.renewals > 1


async def test_a_lock_lost_while_its_update_ran_does_not_fail_the_update(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A resident's lock gone from Redis by the end of the update (the worker stalled past
    its time, Redis lost the key or was away longer): leaving it raised, after the update's
    work was committed, and the update counted as failed: in polling mode the resident was
    told their message could not be handled; a webhook answered 500."""
    from aiogram.fsm.storage.redis import RedisStorage

    from bot.redis_state import RenewedRedisIsolation

    backend = await prepare(tmp_path)
    if backend.redis_url is None:
        pytest.skip("the SQLite run has no Redis: the PostgreSQL + Redis run checks this one")
    storage = RedisStorage.from_url(backend.redis_url)
    isolation = RenewedRedisIsolation(storage)
    resident = StorageKey(bot_id=333333333, chat_id=RESIDENT, user_id=RESIDENT)
    done = False
    try:
        async with isolation.lock(resident):
            await storage.redis.delete(storage.key_builder.build(resident, "lock"))
            done = True
    finally:
        await storage.close()
    assert done and "had lapsed when its update ended" in caplog.text


async def test_redis_away_as_a_lock_is_left_does_not_fail_the_update(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Renewals that meet Redis away are tried again within a second, not a third of the
    lock's time later (two missed made it lapse), and Redis away as the lock is left does
    not fail the update: the lock lapses by itself."""
    import asyncio

    from redis.exceptions import ConnectionError as RedisConnectionError

    from bot import redis_state

    monkeypatch.setattr(redis_state, "RENEW_RETRY", 0.05)
    tries: list[float] = []

    class Away:
        name = "lock"

        async def acquire(self) -> bool:
            return True

        async def reacquire(self) -> bool:
            tries.append(asyncio.get_running_loop().time())
            if len(tries) <= 2:
                raise RedisConnectionError("Redis is restarting")
            return True

        async def release(self) -> None:
            raise RedisConnectionError("Redis is restarting")

    isolation = isolation_over(Away(), ttl=3.0)
    async with isolation.lock(StorageKey(bot_id=1, chat_id=2, user_id=2)):
        await asyncio.sleep(1.6)  # the first renewal at 1 s; the lock lasts 3 s
    assert len(tries) >= 3, tries
