"""Which database and state store the suite runs on: SQLite (default) or PostgreSQL + Redis.

``PHANANH_TEST_BACKEND=postgres`` selects PostgreSQL (TEST_POSTGRES_URL) and Redis
(TEST_REDIS_URL). Where they are not running the tests skip with the reason; in CI (CI=true) a
missing service fails instead, so a green CI always means both backends were exercised.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.settings import Settings

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Unless told which to use, each test process takes its own PostgreSQL database (made from
# TEST_POSTGRES_URL's server, dropped at exit) and its own Redis database number: suites run
# side by side on one machine must not reset each other's data halfway through a test.
_OWN = "TEST_POSTGRES_URL" not in os.environ and "TEST_REDIS_URL" not in os.environ
_OWNER_KEY = "phananh-test-owner"
_own_urls: tuple[str, str] | None = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _own_database() -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    base = make_url(POSTGRES_URL)
    name = f"phananh_test_{os.getpid()}"
    engine = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'phananh_test_%'")
            )
            for (stale,) in rows.all():  # left by a run that was killed
                pid = stale.rsplit("_", 1)[-1]
                if pid.isdigit() and not _alive(int(pid)):
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)'))
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    atexit.register(_drop_own_database, base.render_as_string(hide_password=False), name)
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_own_database(url: str, name: str) -> None:
    async def drop() -> None:
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            await engine.dispose()

    with contextlib.suppress(Exception):  # best effort: the next run drops it otherwise
        asyncio.run(drop())


async def _own_redis() -> str:
    from redis.asyncio import Redis

    for number in range(1, 16):
        url = REDIS_URL.rsplit("/", 1)[0] + f"/{number}"
        client = Redis.from_url(url)
        try:
            if await claim_number(client, os.getpid()):
                return url
        finally:
            await client.aclose()
    return REDIS_URL  # every number taken: share the default one


async def claim_number(client: Redis, pid: int, key: str = _OWNER_KEY) -> bool:
    """Take the client's database number for process ``pid`` if it is free, already its own,
    or its owner is gone; False if a live process holds it. Atomic (WATCH, then a MULTI that
    fails if another process wrote the key meanwhile): two test processes starting together
    both read number 1 free, both took it, and each one's flush at a test's start wiped the
    other's locks halfway through a test (LockNotOwnedError in test_workers_e2e)."""
    from redis.exceptions import WatchError

    async with client.pipeline(transaction=True) as pipe:
        try:
            await pipe.watch(key)
            owner = await pipe.get(key)
            if owner is not None and owner != str(pid).encode() and _alive(int(owner)):
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(key, pid)
            await pipe.execute()
        except WatchError:
            return False
    return True


async def _urls() -> tuple[str, str]:
    global _own_urls
    if not _OWN:
        return POSTGRES_URL, REDIS_URL
    if _own_urls is None:
        _own_urls = (await _own_database(), await _own_redis())
    return _own_urls


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str | None


def selected() -> str:
    return os.environ.get("PHANANH_TEST_BACKEND", "sqlite")


def _unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({error.__class__.__name__}: {error})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must run the PostgreSQL + Redis suite", pytrace=False)
    pytest.skip(message)


async def _reset_postgres(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            # Everything, Alembic's version table included: each test migrates from nothing.
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def _reset_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await client.flushdb()
        if _OWN:
            await client.set(_OWNER_KEY, os.getpid())  # this number stays this process's
    finally:
        await client.aclose()


async def prepare(tmp_path: Path) -> Backend:
    """A clean database (and Redis) for one test."""
    if selected() != "postgres":
        return Backend("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}", None)
    postgres_url, redis_url = POSTGRES_URL, REDIS_URL
    try:
        postgres_url, redis_url = await asyncio.wait_for(_urls(), 20)
        await asyncio.wait_for(_reset_postgres(postgres_url), 10)
    except (TimeoutError, OSError) as error:
        _unavailable(f"PostgreSQL at {POSTGRES_URL}", error)
    except Exception as error:  # redis.exceptions.ConnectionError is not an OSError
        if error.__class__.__name__ in ("ConnectionError", "TimeoutError"):
            _unavailable(f"Redis at {REDIS_URL}", error)
        raise
    try:
        await asyncio.wait_for(_reset_redis(redis_url), 10)
    except (TimeoutError, OSError) as error:
        _unavailable(f"Redis at {redis_url}", error)
    except Exception as error:
        if error.__class__.__name__ in ("ConnectionError", "TimeoutError"):
            _unavailable(f"Redis at {redis_url}", error)
        raise
    return Backend("postgres", postgres_url, redis_url)


async def local_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for the token-free local world (bot.local). It runs on its own SQLite in
    DATA_DIR whatever the backend (bot.local.playground_settings), so none is prepared."""
    from bot.settings import Settings

    return Settings(_env_file=None, data_dir=tmp_path / "data", **overrides)
