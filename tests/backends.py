"""Which database and state store the suite runs on: SQLite (default) or PostgreSQL + Redis.

``PHANANH_TEST_BACKEND=postgres`` selects PostgreSQL (TEST_POSTGRES_URL) and Redis
(TEST_REDIS_URL). Where they are not running the tests skip with the reason; in CI (CI=true) a
missing service fails instead, so a green CI always means both backends were exercised.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


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
    finally:
        await client.aclose()


async def prepare(tmp_path: Path) -> Backend:
    """A clean database (and Redis) for one test."""
    if selected() != "postgres":
        return Backend("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}", None)
    try:
        await asyncio.wait_for(_reset_postgres(POSTGRES_URL), 10)
    except (TimeoutError, OSError) as error:
        _unavailable(f"PostgreSQL at {POSTGRES_URL}", error)
    try:
        await asyncio.wait_for(_reset_redis(REDIS_URL), 10)
    except (TimeoutError, OSError) as error:
        _unavailable(f"Redis at {REDIS_URL}", error)
    except Exception as error:  # redis.exceptions.ConnectionError is not an OSError
        if error.__class__.__name__ in ("ConnectionError", "TimeoutError"):
            _unavailable(f"Redis at {REDIS_URL}", error)
        raise
    return Backend("postgres", POSTGRES_URL, REDIS_URL)
