"""SQLite's one writing connection: its transactions run on the event loop's thread, start to end.

aiosqlite runs every call on a thread of its own and hands the result back through the event
loop: SQLAlchemy makes about four such calls a statement (cursor, execute, fetch, close). Each
call takes microseconds, but each hand-back waits its turn behind everything else the loop has
to do, and while it waits the transaction keeps the one writing connection that every other
update waits for. Measured at 32 residents at once (bench e2e): that connection was held ~85 %
of the time, 3.7 ms a transaction of ~14 statements of microseconds each.

:class:`WriterConnection` makes those calls at once, on the calling thread, so a transaction
runs to its end without giving the loop away, and no other update is kept waiting meanwhile:
- its BEGIN IMMEDIATE, when the write lock is free: tried without waiting; when another process
  holds the lock, BEGIN waits for it on aiosqlite's thread (SQLite's busy handler sleeps), so the
  loop never sleeps;
- everything inside the transaction, COMMIT and ROLLBACK included: in WAL mode none of it waits
  for another connection (a commit appends to the WAL; every ~1000 pages it copies them into the
  database file, a few milliseconds).
Opening and closing the connection, and statements outside a transaction, stay on the thread;
a commit or rollback outside a transaction (SQLAlchemy's reset of a connection back in its pool)
does nothing and runs at once.
Reads for statistics, which take a good part of a second on a big database, have connections of
their own (storage.db.read_connection): :class:`Connection`, aiosqlite's own but for a failed
connect, which here waits for its thread (both kinds are made by :func:`creator`).
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite


class Connection(aiosqlite.Connection):
    """aiosqlite's connection, whose failed connect waits for its thread before raising."""

    async def _connect(self) -> aiosqlite.Connection:
        try:
            return await super()._connect()
        except BaseException:
            # aiosqlite has told its thread to stop without waiting for it. Wait: a thread
            # that answers after the caller's loop has closed raises "Event loop is closed"
            # (aiosqlite issue #241; seen in the suite after a health check's failed connect).
            for _ in range(1000):
                if not self._thread.is_alive():
                    break
                await asyncio.sleep(0.001)
            raise


class WriterConnection(Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection], *, busy_wait: float) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._busy_wait_ms = int(busy_wait * 1000)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        connection = self._connection
        method = _method_of(fn, connection)
        if connection is not None and self._running and method != "close":
            # A commit or rollback outside a transaction returns at once: SQLAlchemy rolls
            # back every connection it takes back into its pool, and each was a hand-over to
            # aiosqlite's thread and back through the loop (1,733 for 967 updates).
            if connection.in_transaction or method in ("cursor", "commit", "rollback"):
                return fn(*args, **kwargs)
            if _begins(fn, args) and self._begin_if_free(connection, fn, args):
                return None  # aiosqlite's Cursor.execute returns itself, not this
        return await self._on_thread(fn, *args, **kwargs)

    async def _on_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _begin_if_free(
        self, connection: sqlite3.Connection, execute: Callable[..., Any], args: tuple[Any, ...]
    ) -> bool:
        """Run the BEGIN now if the write lock is free; False if another process holds it."""
        connection.execute("PRAGMA busy_timeout = 0")
        try:
            execute(*args)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                return False
            raise
        finally:
            connection.execute(f"PRAGMA busy_timeout = {self._busy_wait_ms}")
        return True


def _method_of(fn: Callable[..., Any], connection: sqlite3.Connection | None) -> str | None:
    """The name of ``fn`` when it is a method of ``connection`` itself, else None."""
    if connection is None or getattr(fn, "__self__", None) is not connection:
        return None
    return str(fn.__name__)


def _begins(fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    """A cursor's execute of BEGIN (storage.db begins every transaction so)."""
    return (
        isinstance(getattr(fn, "__self__", None), sqlite3.Cursor)
        and fn.__name__ == "execute"
        and bool(args)
        and isinstance(args[0], str)
        and args[0].lstrip().upper().startswith("BEGIN")
    )


def creator(path: str, *, timeout: float, writer: bool) -> Callable[[], Any]:
    """An ``async_creator`` for create_async_engine: a connection to the file at ``path``,
    waiting up to ``timeout`` seconds for another process's lock (on aiosqlite's thread); the
    writer's a WriterConnection, a reader's a plain one."""

    async def connect() -> Connection:
        connector = functools.partial(
            # A writer's calls come from two threads, never at once: SQLAlchemy awaits each.
            sqlite3.connect,
            path,
            timeout=timeout,
            check_same_thread=not writer,
        )
        connection = (
            WriterConnection(connector, busy_wait=timeout)
            if writer
            else Connection(connector, iter_chunk_size=64)
        )
        connection._thread.daemon = True  # as SQLAlchemy does for its own aiosqlite connections
        await connection
        return connection

    return connect
