"""Bring a database's schema up to date with the Alembic migrations in ``storage/migrations``.

The one way the schema is created and changed, on SQLite and PostgreSQL alike: the service
upgrades on start when the schema is behind, and ``python -m bot migrate`` does it on demand.
Several processes may start at once: on PostgreSQL a transaction-scoped advisory lock lets one
of them migrate while the others wait and then find nothing to do; on SQLite the write lock
taken by ``BEGIN IMMEDIATE`` (storage.db) does the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
# The schema the service had before migrations existed (made by create_all): a database that
# has its tables but no alembic_version is at this revision.
BASELINE = "0001"
_LOCK_KEY = 0x50_68_61_6E  # "Phan": the advisory lock that serialises migrations


@dataclass(frozen=True)
class Outcome:
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection) -> Outcome:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    config = _config(connection)
    before = _current(connection)
    if before is None and inspect(connection).has_table("tickets"):
        command.stamp(config, BASELINE)  # made by create_all before migrations existed
        before = BASELINE
    if before != head():
        command.upgrade(config, "head")
    return Outcome(before, _current(connection))


async def upgrade(engine: AsyncEngine) -> Outcome:
    """Upgrade to the newest revision in one transaction; a failed migration leaves nothing."""
    async with engine.begin() as connection:
        return await connection.run_sync(_upgrade)


async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)
