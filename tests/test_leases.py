"""Leases and marks: one process does scheduled work at a time, and each piece of it once."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
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
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    ttl = timedelta(seconds=30)
    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()  # a process of this machine that is gone, as a SIGKILLed bot is
    with monkeypatch.context() as m:
        m.setattr(os, "getpid", lambda: dead.pid)
        here = this_process()
    elsewhere = f"other-host:{dead.pid}"
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


def _holder_in_a_pid_namespace_of_its_own() -> str:
    """this_process() as a process in a PID namespace of its own names itself (as in a
    container, where the bot runs under the same small pid in every one)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to start a process in a PID namespace of its own")
    code = "from storage.leases import this_process; print(this_process())"
    done = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0 and "Operation not permitted" in done.stderr:
        pytest.skip(f"this machine refuses new PID namespaces: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_processes_in_two_pid_namespaces_of_one_host_are_two_holders() -> None:
    """Two containers sharing the host's name (host networking) run the bot under the same
    pid: host:pid named both the same holder, and both held the sender's lease at once."""
    first, second = _holder_in_a_pid_namespace_of_its_own(), _holder_in_a_pid_namespace_of_its_own()
    assert first != second
    assert first != this_process() and second != this_process()


async def test_a_holder_in_another_pid_namespace_is_not_taken_for_dead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its pid means nothing in this namespace: os.kill here cannot tell it alive."""
    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()
    monkeypatch.setattr(os, "getpid", lambda: dead.pid)
    here = this_process()
    assert died_here(here)
    elsewhere = _holder_in_a_pid_namespace_of_its_own()
    host, _, _ = elsewhere.rpartition(":")
    assert not died_here(f"{host}:{dead.pid}")
