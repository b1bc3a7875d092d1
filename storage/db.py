"""Engine and sessions. SQLite (the embedded default) gets WAL and foreign keys switched on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# The execution option read_connection() sets: SQLite begins its transactions deferred.
READ_ONLY = "phananh_read_only"


def make_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # The driver's own transaction handling starts no transaction before the first
            # write, so a SAVEPOINT would be the outermost transaction and its RELEASE would
            # commit at once. SQLAlchemy's documented recipe: let it begin them itself.
            # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
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
    return create_async_engine(url, pool_pre_ping=True)


@asynccontextmanager
async def read_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection of its own for queries that only read (never write through it): on SQLite
    its transaction takes no write lock. Its transaction is rolled back when it closes."""
    async with engine.connect() as connection:
        await connection.execution_options(**{READ_ONLY: True})
        yield connection


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
