"""``python -m bot seed`` fills a database with a year of tickets over the real units, and
``python -m bot export`` writes them (or the ranking) as CSV or XLSX, or says what is wrong."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.__main__ import main
from domain.directory import Directory
from domain.lifecycle import Status
from storage.db import make_engine
from storage.models import Ticket
from tests.backends import prepare


@pytest.fixture
async def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    backend = await prepare(tmp_path)
    monkeypatch.setenv("DATABASE_URL", backend.database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    return backend.database_url


async def _tickets(url: str) -> list[Ticket]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(Ticket))).all())  # type: ignore[arg-type]
    finally:
        await engine.dispose()


def test_seed_makes_a_year_of_tickets_over_the_real_units(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seed", "--tickets", "400"]) == 0
    assert "Added 400 tickets" in capsys.readouterr().out
    import asyncio

    rows = asyncio.run(_tickets(database))
    assert len(rows) == 400
    directory = Directory.load_default()
    assert all(directory.get(t.unit_code) is not None for t in rows)
    assert len({t.unit_code for t in rows}) > 30  # spread over many units
    now = datetime.now(UTC)
    created = [
        t.created_at.replace(tzinfo=UTC) if t.created_at.tzinfo is None else t.created_at
        for t in rows
    ]
    assert min(created) >= now - timedelta(days=367) and max(created) <= now
    statuses = {t.status for t in rows}
    assert {Status.CLOSED, Status.RESOLVED, Status.REJECTED} <= statuses
    assert any(t.category in ("procedure", "conduct") for t in rows)
    assert len({t.number for t in rows}) == 400


def test_seed_refuses_a_negative_count(database: str) -> None:
    with pytest.raises(SystemExit):
        main(["seed", "--tickets", "-5"])


def test_export_writes_the_tickets_as_csv_and_the_ranking_as_xlsx(
    database: str, tmp_path: Path
) -> None:
    assert main(["seed", "--tickets", "300"]) == 0
    out = tmp_path / "tickets.csv"
    assert main(["export", "tickets", "--format", "csv", "--period", "400", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 300
    assert "description" not in rows[0] and "reporter" not in " ".join(rows[0])
    xlsx = tmp_path / "ranking.xlsx"
    assert (
        main(["export", "ranking", "--format", "xlsx", "--period", "400", "--out", str(xlsx)]) == 0
    )
    sheet = load_workbook(xlsx).active
    assert sheet is not None
    ranking = list(sheet.iter_rows(values_only=True))[1:]
    rates = [r[9] for r in ranking if r[9] is not None]
    assert rates == sorted(rates)  # the worst on-time rate first
    assert sum(int(str(r[3])) for r in ranking) == 300


def test_export_with_a_bad_period_or_unit_says_what_is_wrong(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.csv"
    assert main(["export", "tickets", "--period", "last month", "--out", str(out)]) == 2
    assert "Cannot read the period 'last month'" in capsys.readouterr().err
    assert main(["export", "tickets", "--unit", "99999", "--out", str(out)]) == 2
    assert "No unit has the code '99999'" in capsys.readouterr().err
    assert not out.exists()


def test_an_export_to_a_folder_that_does_not_exist_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m bot export tickets --out reports/2026-11.csv`` where reports/ is not there:
    a FileNotFoundError traceback, after the period and the unit were checked with a clear
    message each. It should say which file could not be written, exit code 2 (or make the
    folder). Now it says so, exit code 2, before the export runs; the folder is not made (a
    mistyped one would hide the file)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    out = tmp_path / "reports" / "2026-11.csv"
    try:
        code = main(["export", "tickets", "--out", str(out)])
    except OSError as error:
        pytest.fail(f"python -m bot export ended in a traceback: {error!r}")
    err = capsys.readouterr().err
    assert code == 2 and str(out) in err and "does not exist" in err, err
    assert not out.parent.exists()


def test_an_export_to_a_folder_is_refused_before_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--out reports`` naming a folder (the file's name forgotten): the export ran (a
    year's takes a minute), then said "Cannot write reports: Is a directory". Now it is said
    before, naming the folder, exit code 2."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    (tmp_path / "reports").mkdir()
    ran = []
    monkeypatch.setattr("bot.export._export", lambda *args: ran.append(args))
    assert main(["export", "tickets", "--out", "reports"]) == 2
    err = capsys.readouterr().err
    assert "reports" in err and "is a folder" in err and not ran, err


async def _a_ticket_of_a_retired_unit(url: str) -> None:
    """A unit merged away: its row stays in ``units`` and its ticket keeps its code."""
    from storage.db import session_factory
    from storage.migrate import upgrade
    from storage.models import Unit

    engine = make_engine(url)
    try:
        await upgrade(engine)
        created = datetime.now(UTC) - timedelta(days=3)
        async with session_factory(engine)() as session:
            session.add(Unit(code="99999", kind="ward", name_vi="Phường Cũ", name_en="Old Ward"))
            await session.flush()
            session.add(
                Ticket(
                    number="26110999",
                    draft_key="gone-1",
                    category="roads",
                    description="-",
                    unit_code="99999",
                    status="closed",
                    resolve_by=created + timedelta(days=2),
                    resolved_at=created + timedelta(hours=5),
                    created_at=created,
                    updated_at=created,
                )
            )
            await session.commit()
    finally:
        await engine.dispose()


def test_the_export_command_names_a_retired_unit_as_the_bot_does(
    database: str, tmp_path: Path
) -> None:
    """The bot names a unit the directory no longer lists by its last known name; the
    command's files gave its code, "99999"."""
    import asyncio

    asyncio.run(_a_ticket_of_a_retired_unit(database))
    for what in ("tickets", "ranking"):
        out = tmp_path / f"{what}.csv"
        assert main(["export", what, "--period", "7", "--out", str(out)]) == 0
        rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
        assert [(r["unit_code"], r["unit"]) for r in rows] == [("99999", "Phường Cũ")], rows


async def test_seeded_tickets_add_up_in_the_statistics(database: str) -> None:
    """The seeded tickets are counted by the database (a smoke check of the SQL on a real
    spread of units, statuses and deadlines)."""
    from bot.seed import seed
    from domain.stats import parse_period
    from storage import stats
    from storage.db import session_factory

    engine = make_engine(database)
    try:
        await seed(engine, 500)
        now = datetime.now(UTC)
        async with session_factory(engine)() as session:
            found = await stats.overview(session, parse_period("400", now), now)
            total = await session.scalar(select(func.count()).select_from(Ticket))
    finally:
        await engine.dispose()
    counts = found.summary.counts
    assert counts.received == total == 500
    assert counts.on_time + counts.late <= counts.received
    assert found.summary.median_seconds is not None
    assert found.summary.p90_seconds is not None
    assert found.summary.median_seconds <= found.summary.p90_seconds
