"""Exports of tickets and of the ranking as CSV or XLSX, for the chat's /export and the CLI.

CSV is UTF-8 with a byte-order mark, so Excel opens Vietnamese names correctly; XLSX is
written with openpyxl in write-only mode (rows streamed, memory flat for a year of tickets).
Ticket exports carry no resident's personal data (see ``storage.stats.TicketRow``). Times are
shown in Hanoi time.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from domain.directory import Directory
from domain.lifecycle import OPEN, Status
from domain.stats import HANOI, Period, PeriodError, UnitFigures, parse_period, placed
from storage import stats
from storage.db import read_connection, session_factory
from storage.migrate import upgrade
from storage.repo import Repository
from storage.stats import RESOLVED_STATUSES, Reader, TicketRow

T = TypeVar("T")


class Format(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


class What(StrEnum):
    TICKETS = "tickets"
    RANKING = "ranking"


TICKET_HEADER = (
    "number",
    "received_at_hanoi",
    "category",
    "unit_code",
    "unit",
    "status",
    "priority",
    "resolve_by_hanoi",
    "accepted_at_hanoi",
    "resolved_at_hanoi",
    "closed_at_hanoi",
    "on_time",
    "rating",
)
RANKING_HEADER = (
    "place",
    "unit_code",
    "unit",
    "received",
    "on_site",
    "administrative",
    "resolved",
    "on_time",
    "late",
    "on_time_percent",
    "satisfied",
    "acceptable",
    "unsatisfied",
)

Cell = str | int | float | None


def _hanoi(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(HANOI).strftime("%Y-%m-%d %H:%M")


def on_time(row: TicketRow, now: datetime) -> str:
    """As the ranking counts it (domain.stats): "yes" resolved in time; "no" resolved late,
    or still open past its deadline at ``now``; "" neither (rejected, open within its time)."""
    if row.resolved_at is not None and row.status in RESOLVED_STATUSES:
        return "yes" if row.resolved_at <= row.resolve_by else "no"
    if Status(row.status) in OPEN and row.resolve_by < now:
        return "no"
    return ""


def ticket_cells(row: TicketRow, directory: Directory, lang: str, now: datetime) -> list[Cell]:
    return [
        row.number[:4] + "-" + row.number[4:],
        _hanoi(row.created_at),
        row.category,
        row.unit_code,
        directory.name(row.unit_code, lang),  # a retired unit by its last name, as in /stats
        row.status,
        row.priority,
        _hanoi(row.resolve_by),
        _hanoi(row.received_at),
        _hanoi(row.resolved_at),
        _hanoi(row.closed_at),
        on_time(row, now),
        row.rating or "",
    ]


def ranking_cells(
    ranking: Sequence[UnitFigures], directory: Directory, lang: str, unit_code: str | None = None
) -> Iterable[list[Cell]]:
    """The ranking's rows, each with its place; ``unit_code``: that unit's row alone (a unit's
    group sees its own figures and its place, not the other units')."""
    for place, figures in placed(ranking):  # tied units share a place, as in /stats
        if unit_code is not None and figures.unit_code != unit_code:
            continue
        c = figures.counts
        rate = c.on_time_rate
        yield [
            place,
            figures.unit_code,
            directory.name(figures.unit_code, lang),
            c.received,
            c.on_site,
            c.administrative,
            c.resolved,
            c.on_time,
            c.late,
            None if rate is None else round(rate, 1),
            c.satisfied,
            c.acceptable,
            c.unsatisfied,
        ]


# Rows read from the database a batch at a time; a batch's cells are made and written into the
# file on a worker thread. On the event loop, a year's export held up every update: 200,000
# tickets took 15 s as CSV and 54 s as XLSX, during which no resident was answered.
BATCH = 500


class _File:
    """The file being written, one batch of rows at a time (on a worker thread)."""

    def __init__(self, fmt: Format, header: Sequence[str]) -> None:
        self.fmt = fmt
        if fmt is Format.CSV:
            self.text = io.StringIO()
            self.csv = csv.writer(self.text)
            self.csv.writerow(header)
        else:
            from openpyxl import Workbook  # ~30 MB: loaded by the first XLSX export only

            self.book = Workbook(write_only=True)
            self.sheet = self.book.create_sheet("data")
            self.sheet.append(list(header))

    def add(self, rows: Iterable[list[Cell]]) -> None:
        if self.fmt is Format.CSV:
            self.csv.writerows(["" if cell is None else cell for cell in row] for row in rows)
        else:
            for row in rows:
                self.sheet.append(row)

    def bytes(self) -> bytes:
        if self.fmt is Format.CSV:
            return self.text.getvalue().encode("utf-8-sig")  # the BOM tells Excel it is UTF-8
        out = io.BytesIO()
        self.book.save(out)
        return out.getvalue()


async def write(
    fmt: Format,
    header: Sequence[str],
    rows: AsyncIterator[T] | Iterable[T],
    cells: Callable[[T], list[Cell]],
) -> bytes:
    """The file's bytes: ``header``, then a row of ``cells`` for each of ``rows``."""
    file = await asyncio.to_thread(_File, fmt, header)
    if not isinstance(rows, AsyncIterator):
        await asyncio.to_thread(file.add, map(cells, rows))
        return await asyncio.to_thread(file.bytes)
    batch: list[T] = []
    async for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            await asyncio.to_thread(file.add, map(cells, batch))
            batch = []
    await asyncio.to_thread(file.add, map(cells, batch))
    return await asyncio.to_thread(file.bytes)


def filename(what: What, fmt: Format, period: Period) -> str:
    return f"phananh-{what}-{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.{fmt}"


async def export_tickets(
    db: Reader,
    period: Period,
    now: datetime,
    fmt: Format,
    directory: Directory,
    lang: str,
    unit_code: str | None = None,
) -> bytes:
    rows = stats.export_rows(db, period, unit_code, batch=BATCH)
    return await write(
        fmt, TICKET_HEADER, rows, lambda row: ticket_cells(row, directory, lang, now)
    )


async def export_ranking(
    db: Reader,
    period: Period,
    now: datetime,
    fmt: Format,
    directory: Directory,
    lang: str,
    unit_code: str | None = None,
) -> bytes:
    ranking = await stats.ranking(db, period, now)
    return await write(
        fmt, RANKING_HEADER, ranking_cells(ranking, directory, lang, unit_code), list
    )


def export_to_file(
    url: str, what: str, fmt: str, period_text: str, unit_code: str | None, out: str
) -> int:
    """``python -m bot export``: write the file, or say clearly what is wrong and return 2.

    The folder of ``out`` must exist: it is not made, so that a mistyped folder (report/ for
    reports/) is said at once, as ``cp`` says it, rather than a file left where nobody looks.
    It is checked before the export runs (a year's takes a minute), as is an ``out`` that is
    a folder itself (the file's name forgotten), and a file that cannot be written all the
    same (a folder not writable, a full disk) is said in one line too."""
    now = datetime.now(UTC)
    try:
        period = parse_period(period_text, now)
    except PeriodError as error:
        print(
            f"Cannot read the period {error.text!r} ({error.problem}). Use nothing (the last "
            "30 days), a number of days (7), a month (2026-11), a year (2026) or two days "
            "(2026-10-01 2026-10-31).",
            file=sys.stderr,
        )
        return 2
    directory = Directory.load_default()
    if unit_code is not None and directory.get(unit_code) is None:
        print(f"No unit has the code {unit_code!r} (see data/directory.json).", file=sys.stderr)
        return 2
    if Path(out).is_dir():
        print(
            f"Cannot write {out}: it is a folder; give --out a file's name, e.g. {out}/tickets.csv",
            file=sys.stderr,
        )
        return 2
    folder = Path(out).parent
    if not folder.is_dir():
        print(
            f"Cannot write {out}: the folder {folder} does not exist; make it, or give --out "
            "a file in a folder that does.",
            file=sys.stderr,
        )
        return 2
    data = asyncio.run(_export(url, What(what), Format(fmt), period, now, directory, unit_code))
    try:
        Path(out).write_bytes(data)
    except OSError as error:
        print(f"Cannot write {out}: {error.strerror or error}.", file=sys.stderr)
        return 2
    print(f"Wrote {out} ({len(data):,} bytes): {what}, {period.label()}.")
    return 0


async def _export(
    url: str,
    what: What,
    fmt: Format,
    period: Period,
    now: datetime,
    directory: Directory,
    unit_code: str | None,
) -> bytes:
    from bot.schema import open_database  # the CLI's alone (the chat's /export has a session)

    engine = await open_database(url)  # or Unreachable, said by bot.__main__
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:  # the bot's directory (bot.app)
            directory = await Repository(session).naming_retired(directory)
        async with read_connection(engine) as db:
            if what is What.TICKETS:
                return await export_tickets(db, period, now, fmt, directory, "vi", unit_code)
            return await export_ranking(db, period, now, fmt, directory, "vi", unit_code)
    finally:
        await engine.dispose()
