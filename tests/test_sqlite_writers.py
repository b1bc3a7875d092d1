"""SQLite writes through one connection, in the order they asked (storage.db): no race for the
write lock in SQLite's sleeping busy handler, and reads beside it on connections of their own.
A write transaction runs on the event loop's thread, start to end (storage.sqlite_writer); only
waiting for another process's lock happens on aiosqlite's thread."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import _readers, make_engine, read_connection, session_factory
from storage.sqlite_writer import WriterConnection
from tests.process import run_python


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "writers.sqlite3"


@pytest.fixture
async def engine(path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    for sync_engine in (engine.sync_engine, readers_of(engine)):

        @event.listens_for(sync_engine, "connect")
        def _thread_function(dbapi_connection: Any, _record: Any) -> None:
            # SELECT thread(): the thread that runs the statement.
            dbapi_connection.create_function("thread", 0, threading.get_ident)

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


def readers_of(engine: AsyncEngine) -> Any:
    return _readers[engine.sync_engine].sync_engine


async def test_a_write_transaction_runs_on_the_event_loops_thread(engine: AsyncEngine) -> None:
    loop_thread = threading.get_ident()
    sessions = session_factory(engine)
    async with sessions() as session:
        await session.execute(text("INSERT INTO arrivals (n) VALUES (1)"))
        assert await session.scalar(text("SELECT thread()")) == loop_thread
        await session.commit()
    async with read_connection(engine) as reader:  # statistics: off the loop, they take long
        assert await reader.scalar(text("SELECT thread()")) != loop_thread


async def test_sessions_that_end_hand_nothing_to_aiosqlites_thread(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLAlchemy rolls back each connection it takes back into its pool. Outside a transaction
    # that does nothing, but on aiosqlite's thread it cost a hand-over and back through the
    # event loop at the end of every session.
    handed: list[str] = []
    on_thread = WriterConnection._on_thread

    async def counted(self: WriterConnection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        handed.append(fn.__name__)
        return await on_thread(self, fn, *args, **kwargs)

    monkeypatch.setattr(WriterConnection, "_on_thread", counted)
    sessions = session_factory(engine)
    for n in range(3):
        async with sessions() as session:  # a write, committed
            await session.execute(text("INSERT INTO arrivals (n) VALUES (:n)"), {"n": n})
            await session.commit()
        async with sessions() as session:  # a read, closed without a commit
            assert await session.scalar(text("SELECT count(*) FROM arrivals")) == n + 1
    assert handed == []


async def test_waiting_for_another_process_lock_does_not_stop_the_loop(
    engine: AsyncEngine, path: Path
) -> None:
    sessions = session_factory(engine)
    loop_ran = asyncio.Event()
    written = asyncio.Event()

    async def write() -> None:
        async with sessions() as session:
            await session.execute(text("INSERT INTO arrivals (n) VALUES (2)"))
            await session.commit()
        written.set()

    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another process writing
        writer = asyncio.create_task(write())
        # The writer waits for the lock on aiosqlite's thread; the loop goes on meanwhile.
        asyncio.get_running_loop().call_soon(loop_ran.set)
        async with asyncio.timeout(10):
            await loop_ran.wait()
        assert not written.is_set()
        other.execute("INSERT INTO arrivals (n) VALUES (1)")
        other.execute("COMMIT")
    async with asyncio.timeout(10):
        await writer
    async with engine.connect() as connection:
        order = (await connection.execute(text("SELECT n FROM arrivals ORDER BY rowid"))).all()
    assert [n for (n,) in order] == [1, 2]


NEW_FILES = """
import asyncio, os, sys, tempfile
from storage.db import make_engine
from storage.migrate import upgrade

async def attempt(folder):
    engines = [make_engine(f"sqlite+aiosqlite:///{folder}/new.sqlite3") for _ in range(3)]
    try:
        outcomes = await asyncio.gather(*(upgrade(e) for e in engines), return_exceptions=True)
    finally:
        for engine in engines:
            await engine.dispose()
    failed = [repr(o)[:120] for o in outcomes if isinstance(o, BaseException)]
    return failed or [sum(o.changed for o in outcomes)]

async def main():
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(int(sys.argv[1])):
            os.mkdir(f"{tmp}/{n}")
            print(*await attempt(f"{tmp}/{n}"), sep="; ")

asyncio.run(main())
"""


async def test_engines_opening_a_new_file_at_once_migrate_it_once() -> None:
    """Engines (processes starting together) on a database file that does not exist yet: one
    migrates, the others wait and find nothing to do. Switching the new file to WAL used to
    race with the other connections opening it: "database is locked", or two migrations at
    once ("table already exists"). In a fresh interpreter, as a starting process is."""
    out = await run_python(NEW_FILES, "30")
    assert out.splitlines() == ["1"] * 30


FAILED_CONNECT = """
import asyncio, shutil, sys, tempfile, threading
from sqlalchemy import text
from storage.db import make_engine, read_connection

async def main(folder):
    engine = make_engine(f"sqlite+aiosqlite:///{folder}/gone/db.sqlite3")
    shutil.rmtree(f"{folder}/gone")  # the database's directory is gone: connecting fails
    for connect in (engine.connect, lambda: read_connection(engine)):  # the writer, a reader
        try:
            async with connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:
            alive = [t for t in threading.enumerate() if t.name.endswith("_worker_thread)")]
            print(type(error).__name__, len(alive))

sys.setswitchinterval(5.0)  # the connection's thread runs only while this one waits
asyncio.run(main(tempfile.mkdtemp()))
"""


async def test_a_failed_connect_leaves_no_thread_to_answer_a_closed_loop() -> None:
    """The thread of a connection that could not open has exited when the error reaches the
    caller: otherwise it may answer after the caller's loop closed ("Event loop is closed",
    seen after the health check's test of a missing database)."""
    assert (await run_python(FAILED_CONNECT)).split() == ["OperationalError", "0"] * 2
