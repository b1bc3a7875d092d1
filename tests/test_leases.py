"""Leases and marks: one process does scheduled work at a time, and each piece of it once."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import make_engine, session_factory
from storage.leases import LeaseKeeper, died_here, mark_once, this_process
from storage.migrate import upgrade
from tests.backends import prepare


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    backend = await prepare(tmp_path)
    engine = make_engine(backend.database_url)
    await upgrade(engine)
    yield session_factory(engine)
    await engine.dispose()


async def test_one_holder_at_a_time_and_a_dead_holder_is_replaced(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    ttl = timedelta(seconds=30)
    a = LeaseKeeper(sessions, "sender", ttl, clock, holder="a")
    b = LeaseKeeper(sessions, "sender", ttl, clock, holder="b")
    assert await a.held() and not await b.held()
    clock.now += timedelta(seconds=20)  # a renews before it lapses...
    assert await a.held() and not await b.held()
    clock.now += timedelta(seconds=25)
    assert not await b.held()  # ...so b still waits
    clock.now += timedelta(seconds=40)  # a died: its lease lapsed
    assert await b.held()
    assert not await a.held()  # a came back: b holds it now
    await b.release()
    assert await a.held()


async def test_a_lease_is_taken_once_when_processes_start_together(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    keepers = [
        LeaseKeeper(sessions, "scheduler", timedelta(seconds=30), clock, holder=f"p{i}")
        for i in range(4)
    ]
    held = await asyncio.gather(*(k.held() for k in keepers))
    assert sorted(held) == [False, False, False, True]


async def test_a_mark_is_made_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = Clock()()
    async with sessions() as session:
        assert await mark_once(session, "digest:2026-11-30", now)
        assert not await mark_once(session, "digest:2026-11-30", now)
        await session.commit()
    async with sessions() as session:
        assert not await mark_once(session, "digest:2026-11-30", now)
        assert await mark_once(session, "digest:2026-12-01", now)
        await session.rollback()  # not committed: not done
    async with sessions() as session:
        assert await mark_once(session, "digest:2026-12-01", now)


async def test_a_restart_after_a_crash_takes_the_lease_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    ttl = timedelta(seconds=30)
    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()  # a process of this machine that is gone, as a SIGKILLed bot is
    here, elsewhere = f"{socket.gethostname()}:{dead.pid}", f"other-host:{dead.pid}"
    gone = LeaseKeeper(sessions, "sender", ttl, clock, holder=here)
    assert await gone.held()
    alive_elsewhere = LeaseKeeper(sessions, "scheduler", ttl, clock, holder=elsewhere)
    assert await alive_elsewhere.held()
    restarted = LeaseKeeper(sessions, "sender", ttl, clock)
    assert await restarted.held()  # no 30 s wait
    other = LeaseKeeper(sessions, "scheduler", ttl, clock)
    assert not await other.held()  # another machine's holder is waited out


# Pods of one Deployment: names cut to 63 characters, differing only at the end.
POD = "phananh-telegram-bot-hoan-kiem-district-production-7d9f8b6c5d-x"
OTHER_POD = "phananh-telegram-bot-hoan-kiem-district-production-7d9f8b6c5d-y"


async def test_a_long_host_name_still_takes_the_lease_and_its_dead_are_known(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host name of 63 characters made host:pid longer than the holder's column: on
    PostgreSQL no lease could be taken, and nothing scheduled or queued was ever sent."""
    monkeypatch.setattr(socket, "gethostname", lambda: POD)
    monkeypatch.setattr(os, "getpid", lambda: 7)  # under the image's init
    assert len(this_process()) <= 64
    keeper = LeaseKeeper(sessions, "sender", timedelta(seconds=10), Clock())
    assert await keeper.held()
    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()
    monkeypatch.setattr(os, "getpid", lambda: dead.pid)
    gone = this_process()
    assert died_here(gone) and len(gone) <= 64
    # Another pod's process with the same pid is someone else.
    monkeypatch.setattr(socket, "gethostname", lambda: OTHER_POD)
    assert this_process() != gone and not died_here(gone)
