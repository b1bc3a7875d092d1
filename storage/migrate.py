"""Bring a database's schema up to date with the Alembic migrations in ``storage/migrations``.

The one way the schema is created and changed, on SQLite and PostgreSQL alike: the service
upgrades on start when the schema is behind, and ``python -m bot migrate`` does it on demand.
Several processes may start at once: on PostgreSQL a transaction-scoped advisory lock lets one
of them migrate while the others wait and then find nothing to do; on SQLite the write lock
taken by ``BEGIN IMMEDIATE`` (storage.db) does the same.

Alembic itself (~11 MB once imported, and kept for the life of the process) is loaded only when
there is something to do: a database already at the newest revision is recognised by reading
``alembic_version`` and the revision ids in the migration files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
# The schema the service had before migrations existed (made by create_all): a database that
# has its tables but no alembic_version is at this revision.
BASELINE = "0001"
_LOCK_KEY = 0x50_68_61_6E  # "Phan": the advisory lock that serialises migrations
# How a migration file names itself and its parent (the template, script.py.mako, writes both).
_REVISION = re.compile(r'^revision: str = "([^"]+)"$', re.MULTILINE)
_PARENT = re.compile(r'^down_revision: str \| None = (?:"([^"]+)"|None)$', re.MULTILINE)


@dataclass(frozen=True)
class Outcome:
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _config(connection: Connection | None = None) -> Config:
    """Alembic's configuration: our migrations, run on ``connection`` (env.py reads it)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def head_in_files() -> str | None:
    """The newest revision, read from the migration files without Alembic; None when they do
    not show exactly one (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("[!_]*.py"):  # not __init__.py
        source = path.read_text(encoding="utf-8")
        revision, parent = _REVISION.search(source), _PARENT.search(source)
        if revision is None or parent is None:
            return None  # a file written some other way: let Alembic read it
        revisions.add(revision[1])
        if parent[1] is not None:
            parents.add(parent[1])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stamped(connection: Connection) -> str | None:
    """The revision alembic_version records, read with plain SQL."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return str(versions[0][0]) if len(versions) == 1 else None


def _at_head(connection: Connection) -> str | None:
    """The newest revision of the files when the schema is stamped with it, as read without
    Alembic; None when it is behind, or when that cannot be told without Alembic."""
    newest = head_in_files()
    return newest if newest is not None and _stamped(connection) == newest else None


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection) -> Outcome:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    newest = _at_head(connection)
    if newest is not None:
        return Outcome(newest, newest)  # up to date: nothing to import, nothing to do
    from alembic import command

    config = _config(connection)
    before = _current(connection)
    if before is None and inspect(connection).has_table("tickets"):
        command.stamp(config, BASELINE)  # made by create_all before migrations existed
        before = BASELINE
    if before != head():
        command.upgrade(config, "head")
    return Outcome(before, _current(connection))


async def behind(engine: AsyncEngine) -> bool:
    """Whether the schema is not at the newest revision (read without Alembic)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_at_head) is None


async def upgrade(engine: AsyncEngine) -> Outcome:
    """Upgrade to the newest revision in one transaction; a failed migration leaves nothing."""
    async with engine.begin() as connection:
        return await connection.run_sync(_upgrade)


async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)
