"""Engine and sessions. SQLite (the embedded default) gets WAL and foreign keys switched on."""

from __future__ import annotations

import contextlib
import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from storage.sqlite_writer import creator

# The execution option read_connection() sets: SQLite begins its transactions deferred.
READ_ONLY = "phananh_read_only"


# SQLite lets one connection write at a time. With a pool of several, concurrent updates each
# took a connection and raced for the write lock in SQLite's busy handler, which sleeps and
# polls (1, 2, 5 ... 100 ms): the lock stood free while the waiters slept, and the last
# in line could lose every race (a benchmark at 32 residents: p99 of seconds). One writing
# connection instead, and the pool is the queue: first come, first served, no sleeping.
SQLITE_WRITERS = 1
# How long an update waits for that connection before it fails (and the resident is told).
SQLITE_POOL_WAIT_S = 30.0
# How long a connection waits for another process's write lock (the busy handler's timeout).
SQLITE_BUSY_WAIT_S = 30.0
# Readers (read_connection) open connections of their own beside it, never from that pool.
_readers: weakref.WeakKeyDictionary[Engine, AsyncEngine] = weakref.WeakKeyDictionary()


# PostgreSQL: the connections a process keeps, and none beyond them. An update holds one for
# a few milliseconds (nothing waits on the network inside a transaction), so a burst queues
# for them briefly; with overflow connections allowed (SQLAlchemy's default, 10 beyond 5),
# each burst opened new ones, a server process and a handshake each, and closed them after
# it. Several workers times this stays well inside PostgreSQL's default 100.
POSTGRES_CONNECTIONS = 10
POSTGRES_POOL_WAIT_S = 30.0


def make_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_async_engine(
            url,
            pool_pre_ping=True,
            pool_size=POSTGRES_CONNECTIONS,
            max_overflow=0,
            pool_timeout=POSTGRES_POOL_WAIT_S,
        )
        # Statistics, /metrics and the health check read on connections of their own, opened
        # for each read: a year's statistics do not hold the updates' connections for a
        # second, and a burst that queues for those does not make /healthz say "down".
        _readers[engine.sync_engine] = create_async_engine(url, poolclass=NullPool)
        return engine
    if not parsed.database or parsed.database == ":memory:":
        return _sqlite_engine(url)  # one connection's own database: its own pool rules
    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    _use_wal(parsed.database)
    writer: dict[str, Any] = {}
    reader: dict[str, Any] = {}
    if not parsed.query:  # options in the URL are the driver's own: aiosqlite applies them
        path, wait = parsed.database, SQLITE_BUSY_WAIT_S
        writer["async_creator"] = creator(path, timeout=wait, writer=True)
        reader["async_creator"] = creator(path, timeout=wait, writer=False)
    engine = _sqlite_engine(
        url, pool_size=SQLITE_WRITERS, max_overflow=0, pool_timeout=SQLITE_POOL_WAIT_S, **writer
    )
    # A connection per read, closed after it: statistics are rare and a connection is cheap.
    _readers[engine.sync_engine] = _sqlite_engine(url, poolclass=NullPool, **reader)
    return engine


def _use_wal(path: str) -> None:
    """Put the file in WAL mode before any connection of the engine opens it. The switch needs
    the database to itself: connections opening a new file at once raced for it (one failed
    with "database is locked", or two could migrate at once). Once set it stays in the file."""
    with contextlib.closing(sqlite3.connect(path, timeout=SQLITE_BUSY_WAIT_S)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def _sqlite_engine(url: str, **pool: Any) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_WAIT_S}, **pool)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling starts no transaction before the first
        # write, so a SAVEPOINT would be the outermost transaction and its RELEASE would
        # commit at once. SQLAlchemy's documented recipe: let it begin them itself.
        # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer (_use_wal)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints, safe in WAL
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        # IMMEDIATE: take the write lock at the start. A deferred transaction that read
        # first cannot write after another connection committed (SQLITE_BUSY_SNAPSHOT,
        # no waiting). Transactions here are short: nothing waits on the network inside
        # one (see handlers.context.CommitFirst), so taking the lock early costs little.
        # A connection from read_connection() only reads (a year's statistics take
        # a good part of a second): a deferred BEGIN, so it holds no write lock and new
        # reports are not kept waiting; in WAL mode it reads the last commit.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@asynccontextmanager
async def read_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection of its own for queries that only read (never write through it): on SQLite
    its transaction takes no write lock, and it does not wait for (or hold up) the one
    writing connection. Its transaction is rolled back when it closes."""
    async with _readers.get(engine.sync_engine, engine).connect() as connection:
        await connection.execution_options(**{READ_ONLY: True})
        yield connection


def dialect_of(session: AsyncSession) -> str:
    """The name of the session's SQL dialect: "sqlite" or "postgresql"."""
    return session.bind.dialect.name if session.bind else "sqlite"


def insert_in(dialect: str, table: Any) -> PgInsert | SqliteInsert:
    """INSERT into ``table`` in the named dialect, for its ON CONFLICT clauses."""
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def insert_for(session: AsyncSession, table: Any) -> PgInsert | SqliteInsert:
    """INSERT into ``table`` in the session's dialect, for its ON CONFLICT clauses."""
    return insert_in(dialect_of(session), table)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
