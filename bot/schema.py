"""``python -m bot migrate``: bring the configured database's schema up to date, and say so.

Also where every command opens the configured database (open_database): one that cannot be
reached (PostgreSQL not running yet, a wrong host or port, a database not created, a password
refused, a DATA_DIR that cannot be written) stops the command with one line naming the setting
and what the server said (bot.__main__: exit code 2), not 130 lines of asyncpg's frames.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from storage.db import make_engine
from storage.migrate import upgrade


class Unreachable(Exception):
    """The configured database could not be opened; str() is the line to print."""


def shown(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def _why(error: BaseException) -> str:
    """What the server (or the system) said, in one line."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    said = str(error).strip()
    if isinstance(error, TimeoutError) and not said:
        said = "no answer in time"
    return said.splitlines()[0] if said else type(error).__name__


def _unreachable(url: str, error: BaseException) -> Unreachable:
    if make_url(url).get_backend_name() == "sqlite":
        return Unreachable(
            f"Cannot open the SQLite database {shown(url)} (in DATA_DIR, or the file "
            f"DATABASE_URL names): {_why(error)}."
        )
    return Unreachable(f"Cannot reach the database DATABASE_URL={shown(url)}: {_why(error)}.")


async def open_database(url: str) -> AsyncEngine:
    """An engine on ``url`` that has connected once; Unreachable when it cannot. Only the
    first connection is looked at: a failed migration or query later is not "unreachable"."""
    try:
        engine = make_engine(url)  # SQLite: makes its folder and opens the file (WAL)
    except (OSError, sqlite3.Error) as error:
        raise _unreachable(url, error) from None
    try:
        async with engine.connect():
            pass
    except (OSError, sqlite3.Error, DBAPIError) as error:
        await engine.dispose()
        raise _unreachable(url, error) from None
    return engine


async def migrate(settings: Settings) -> int:
    engine = await open_database(settings.db_url)
    where = shown(settings.db_url)
    try:
        outcome = await upgrade(engine)
    finally:
        await engine.dispose()
    if outcome.changed:
        print(f"{where}: schema upgraded from {outcome.before or 'nothing'} to {outcome.after}.")
    else:
        print(f"{where}: schema is up to date ({outcome.after}).")
    return 0
