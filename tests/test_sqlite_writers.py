"""SQLite writes through one connection, in the order they asked (storage.db): no race for the
write lock in SQLite's sleeping busy handler, and reads beside it on connections of their own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import make_engine, read_connection, session_factory


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'writers.sqlite3'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE arrivals (n INTEGER NOT NULL)"))
    yield engine
    await engine.dispose()


async def test_writers_waiting_for_the_write_lock_go_in_the_order_they_came(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    started: list[asyncio.Task[None]] = []

    async def write(n: int) -> None:
        async with sessions() as session:
            await session.execute(text("INSERT INTO arrivals (n) VALUES (:n)"), {"n": n})
            await session.commit()

    async with sessions() as first:  # holds the write lock while twenty others line up
        await first.execute(text("INSERT INTO arrivals (n) VALUES (-1)"))
        for n in range(20):
            started.append(asyncio.create_task(write(n)))
            await asyncio.sleep(0.01)  # each has asked before the next one comes
        await first.commit()
    async with asyncio.timeout(30):
        await asyncio.gather(*started)
    async with engine.connect() as connection:
        order = (await connection.execute(text("SELECT n FROM arrivals ORDER BY rowid"))).all()
    assert [n for (n,) in order] == [-1, *range(20)]


async def test_a_reader_does_not_wait_for_the_writer(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as writer:
        await writer.execute(text("INSERT INTO arrivals (n) VALUES (1)"))  # lock held, open
        async with asyncio.timeout(10), read_connection(engine) as reader:
            # It reads the last commit, not the writer's open transaction.
            assert await reader.scalar(text("SELECT count(*) FROM arrivals")) == 0
        await writer.commit()
    async with read_connection(engine) as reader:
        assert await reader.scalar(text("SELECT count(*) FROM arrivals")) == 1
