"""Alembic migrations are the one way the schema is made: they give exactly the models' schema,
bring an older database forward without losing its rows, and may run from several processes at
once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.__main__ import main
from storage.db import make_engine
from storage.migrate import BASELINE, _config, current, head, head_in_files, upgrade
from storage.models import Base, ChatBinding
from tests.backends import prepare
from tests.process import run_python


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_create_exactly_the_models_schema(tmp_path: Path) -> None:
    backend = await prepare(tmp_path)
    engine = make_engine(backend.database_url)
    try:
        outcome = await upgrade(engine)
        assert (outcome.before, outcome.after) == (None, head())
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
        again = await upgrade(engine)
        assert not again.changed
    finally:
        await engine.dispose()


def _to_baseline_without_version(connection: Connection) -> None:
    command.upgrade(_config(connection), BASELINE)
    connection.execute(text("DROP TABLE alembic_version"))
    connection.execute(
        text("INSERT INTO units (code, kind, name_vi, name_en) VALUES ('1', 'ward', 'P', 'W')")
    )


async def test_a_database_from_before_migrations_is_brought_forward_with_its_rows(
    tmp_path: Path,
) -> None:
    backend = await prepare(tmp_path)
    engine = make_engine(backend.database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_baseline_without_version)
        outcome = await upgrade(engine)
        assert (outcome.before, outcome.after) == (BASELINE, head())
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM units"))).scalar() == 1
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


def _two_groups_for_one_unit(connection: Connection) -> None:
    """A database from before 0009: Hoàn Kiếm bound to two groups, Ba Đình to one."""
    command.upgrade(_config(connection), "0008")
    units = sa.table("units", *(sa.column(c) for c in ("code", "kind", "name_vi", "name_en")))
    connection.execute(
        sa.insert(units),
        [
            {"code": "00070", "kind": "ward", "name_vi": "Hoàn Kiếm", "name_en": "Hoan Kiem"},
            {"code": "00004", "kind": "ward", "name_vi": "Ba Đình", "name_en": "Ba Dinh"},
        ],
    )
    day = datetime(2026, 11, 1, tzinfo=UTC)
    # The later binding is the earlier row: the moment it was bound decides, not the row id.
    rows = [
        ("-1002", "00070", day + timedelta(days=1)),
        ("-1001", "00070", day),
        ("-1003", "00004", day),
    ]
    connection.execute(
        sa.insert(ChatBinding),
        [
            {"channel": "telegram", "chat_id": c, "unit_code": u, "bound_by": "t", "bound_at": at}
            for c, u, at in rows
        ],
    )


async def test_a_unit_bound_to_two_groups_keeps_the_one_its_cards_went_to(
    tmp_path: Path,
) -> None:
    """Before 0009 a unit could be bound to several groups; its cards went to the latest one,
    and the others could still act on its tickets. Brought forward, it keeps that one alone."""
    backend = await prepare(tmp_path)
    engine = make_engine(backend.database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_two_groups_for_one_unit)
        assert (await upgrade(engine)).after == head()
        async with engine.connect() as connection:
            bound = await connection.execute(
                text("SELECT unit_code, chat_id FROM chat_bindings ORDER BY unit_code")
            )
            assert bound.all() == [("00004", "-1003"), ("00070", "-1002")]
    finally:
        await engine.dispose()


async def test_downgrade_to_nothing_and_up_again(tmp_path: Path) -> None:
    backend = await prepare(tmp_path)
    engine = make_engine(backend.database_url)
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            await connection.run_sync(lambda c: command.downgrade(_config(c), "base"))
        assert await current(engine) is None
        assert (await upgrade(engine)).after == head()
    finally:
        await engine.dispose()


async def test_processes_starting_together_migrate_once(tmp_path: Path) -> None:
    backend = await prepare(tmp_path)
    engines = [make_engine(backend.database_url) for _ in range(3)]
    try:
        outcomes = await asyncio.gather(*(upgrade(e) for e in engines))
        assert sorted(o.changed for o in outcomes) == [False, False, True]
        assert {o.after for o in outcomes} == {head()}
    finally:
        for engine in engines:
            await engine.dispose()


async def test_migrate_command_says_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = await prepare(tmp_path)
    monkeypatch.setenv("DATABASE_URL", backend.database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    assert await asyncio.to_thread(main, ["migrate"]) == 0
    assert f"to {head()}" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_the_newest_revision_is_read_from_the_files_as_alembic_reads_it() -> None:
    assert head_in_files() == head() is not None


async def test_an_up_to_date_database_is_recognised_without_loading_alembic(
    tmp_path: Path,
) -> None:
    """Every start checks the schema; when nothing is to do, Alembic (~11 MB) stays unloaded."""
    backend = await prepare(tmp_path)
    engine = make_engine(backend.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    check = (
        "import asyncio, sys\n"
        "from storage.db import make_engine\n"
        "from storage.migrate import upgrade\n"
        "async def start():\n"
        f"    engine = make_engine({backend.database_url!r})\n"
        "    try:\n"
        "        return await upgrade(engine)\n"
        "    finally:\n"
        "        await engine.dispose()\n"
        "outcome = asyncio.run(start())\n"
        "print(outcome.before, outcome.after, 'alembic' in sys.modules)\n"
    )
    out = await run_python(check)
    assert out.split() == [head(), head(), "False"]


MIGRATE_APART = """
import asyncio, sys, tempfile
from bot.run import migrate_apart
from bot.settings import Settings
from storage.db import make_engine
from storage.migrate import behind

async def main():
    settings = Settings(_env_file=None, data_dir=tempfile.mkdtemp())  # a new database
    engine = make_engine(settings.db_url)
    before = await behind(engine)
    await migrate_apart(settings)
    after = await behind(engine)
    await engine.dispose()
    print(before, after, "alembic" in sys.modules)

asyncio.run(main())
"""


async def test_the_serving_process_migrates_in_a_child_and_never_loads_alembic() -> None:
    """python -m bot (bot.run) brings a schema that is behind up to date with
    ``python -m bot migrate`` in a child process: Alembic (~10 MB) stays out of the process
    that then serves."""
    assert (await run_python(MIGRATE_APART)).split() == ["True", "False", "False"]


FAILED_APART = """
import asyncio, sqlite3, sys
from sqlalchemy.engine import make_url
from bot.run import migrate_apart
from bot.settings import Settings

settings = Settings(_env_file=None, data_dir=sys.argv[1])
path = make_url(settings.db_url).database
settings.data_dir.mkdir(parents=True, exist_ok=True)
with sqlite3.connect(path) as db:  # stamped with a revision no migration file has
    db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    db.execute("INSERT INTO alembic_version VALUES ('f00d')")
try:
    asyncio.run(migrate_apart(settings))
except RuntimeError as error:
    lines = str(error).splitlines()
    print(lines[0], "|", any("f00d" in line for line in lines))
"""


async def test_a_failed_migration_in_the_child_stops_the_start(tmp_path: Path) -> None:
    out = await run_python(FAILED_APART, str(tmp_path / "data"))
    assert out.strip() == "python -m bot migrate exited with 1: | True"


@pytest.mark.parametrize("command", ["migrate", "run"])
def test_a_database_that_cannot_be_reached_stops_the_start_with_a_message(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """PostgreSQL not running yet, a wrong port, a database not yet created: ``python -m bot``
    and ``python -m bot migrate`` end in a 130 to 175-line traceback of asyncpg's and
    SQLAlchemy's frames. The README says wrong values "stop the start with a message that
    names the setting": one line naming DATABASE_URL (its password hidden) and what the
    server said, exit code 2. Now that line, and exit code 2."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://phananh:pw@127.0.0.1:1/phananh")
    monkeypatch.delenv("REDIS_URL", raising=False)
    if command == "run":
        monkeypatch.setenv("BOT_TOKEN", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0")
        monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:1")
    else:
        monkeypatch.delenv("BOT_TOKEN", raising=False)
    try:
        code = main([command])
    except Exception as error:  # what the operator got: a traceback
        pytest.fail(f"python -m bot {command} ended in a traceback: {error!r}")
    err = capsys.readouterr().err
    assert code == 2
    assert "DATABASE_URL" in err and "pw" not in err
    assert "Connect call failed" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("command", ["migrate", "run", "export"])
def test_a_data_dir_that_cannot_be_written_stops_the_start_with_a_message(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """DATA_DIR naming a file, or a folder the bot's user cannot write: the SQLite database
    cannot be made there, and the start ended in a traceback of sqlite3's or of mkdir's. One
    line now names DATA_DIR and says why, exit code 2 (``run`` without a token: the
    playground, whose database is in DATA_DIR too)."""
    monkeypatch.chdir(tmp_path)
    taken = tmp_path / "taken"
    taken.write_text("a file, not a folder")
    monkeypatch.setenv("DATA_DIR", str(taken))
    for name in ("DATABASE_URL", "REDIS_URL", "BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMULATOR_PORT", "0")  # any free port; the page's is never reached
    argv = {"export": ["export", "tickets", "--out", str(tmp_path / "t.csv")]}.get(
        command, [command]
    )
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "DATA_DIR" in err and str(taken) in err and len(err.strip().splitlines()) == 1, err
