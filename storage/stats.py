"""The statistics queries: counting and grouping happen in the database, never in Python over
every ticket, so a year of a big city (a million tickets) answers in well under a second.

Definitions are in ``domain/stats.py``. What /stats shows takes three queries:

- the counts, grouped by unit, status, category and rating (a few thousand groups for a year)
  and summed here into each unit's figures; the city's are the sum of its units'. Each ticket
  costs two comparisons, no arithmetic on timestamps;
- the open tickets past their deadline, per unit (few; counted from the status index);
- the median and 90th percentile of ``Ticket.resolve_minutes`` (minutes to resolve, kept by
  ``Repository.change_status``): PostgreSQL's ``percentile_cont`` over integers; on SQLite,
  which has none, a histogram of the minutes read with ``percentile_cont``'s interpolation.
  Exact to the minute on both, with no arithmetic on timestamps.

``overview`` runs the counts and the percentiles at once, each on a read connection of its own
(``storage.db.read_connection``: on SQLite it holds no write lock).

On SQLite, which has no hash aggregation, a GROUP BY is cheap only when it reads an index in
the order of the groups: a long period reads ``ix_tickets_stats_unit`` (unit, status,
category, rating first) and ``ix_tickets_stats_resolve`` (by ``resolve_minutes``) whole; a short
one reads its own range of ``ix_tickets_stats_period`` and sorts that (migration 0004).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ARRAY, ColumnElement, Float, Select, Table, and_, func, select, text
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op
from sqlalchemy.sql.selectable import HasHints

from domain import categories
from domain.categories import Group
from domain.lifecycle import OPEN, Status
from domain.stats import (
    RATINGS,
    Counts,
    Period,
    Summary,
    UnitFigures,
    rank,
    ranks_needed,
    total,
)
from storage.db import read_connection
from storage.models import Ticket

ADMINISTRATIVE = frozenset(c.code for c in categories.CATEGORIES if c.group is Group.ADMINISTRATIVE)
OPEN_STATUSES = tuple(sorted(str(s) for s in OPEN))
RESOLVED_STATUSES = (str(Status.RESOLVED), str(Status.CLOSED))
# On SQLite, a period longer than this reads the whole of an index in the order of the groups;
# a shorter one reads only its own range (by created_at) and sorts it.
LONG_PERIOD = timedelta(days=62)
COUNTS = ("received", "administrative", "resolved", "on_time", "late", *RATINGS)

_Query = TypeVar("_Query", bound=HasHints)
_T = TypeVar("_T")
# Where the queries run: the caller's session, or a read connection of their own.
Reader = AsyncSession | AsyncConnection


def _dialect(db: Reader) -> str:
    bind = db.bind if isinstance(db, AsyncSession) else db
    return bind.dialect.name if bind is not None else "sqlite"


def _long(period: Period) -> bool:
    return period.end - period.start > LONG_PERIOD


def _whole(dialect: str, period: Period, unit_code: str | None) -> bool:
    """Whether a city-wide query reads a whole index on SQLite (see _in_period)."""
    return dialect == "sqlite" and unit_code is None and _long(period)


def _in_period(
    period: Period, unit_code: str | None, *, whole_index: bool = False
) -> ColumnElement[bool]:
    created: ColumnElement[datetime] = Ticket.created_at.expression
    if whole_index:
        # SQLite: ``+created_at`` is the same value, but the planner does not seek on it. A
        # long period covers most of an index: reading it straight through is faster than a
        # skip-scan that seeks the period's start in every group (once ANALYZE has run).
        created = UnaryExpression(created, operator=custom_op("+"), type_=created.type)
    condition = and_(created >= period.start, created < period.end)
    if unit_code is not None:
        condition = and_(Ticket.unit_code == unit_code, condition)
    return condition


def _index(dialect: str, query: _Query, name: str) -> _Query:
    """On SQLite, read the named index: the planner, from its statistics (or none, before an
    ANALYZE), may sort a year of rows from created_at's index where another groups in order."""
    if dialect != "sqlite":
        return query
    return query.with_hint(Ticket, f"INDEXED BY {name}", "sqlite")


@compiles(Table, "sqlite")
def _sqlite_table(table: Table, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLAlchemy's SQLite compiler drops table hints (``with_hint``) where MySQL's and SQL
    Server's render them: write the hint after the table's name, where INDEXED BY goes."""
    sql: str = compiler.visit_table(table, **kw)  # type: ignore[no-untyped-call]
    hints = kw.get("fromhints")
    if kw.get("asfrom") and hints and table in hints:
        sql = f"{sql} {hints[table]}"
    return sql


def _groups(dialect: str, period: Period, unit_code: str | None) -> Select[*tuple[Any, ...]]:
    """The period's tickets counted by unit, status, category and rating; within a group, how
    many have resolved_at and how many were resolved by their deadline. Whether a group is
    resolved, administrative or rated is decided in Python, once a group, not once a ticket."""
    keys = (Ticket.unit_code, Ticket.status, Ticket.category, Ticket.rating)
    query = (
        select(
            *keys,
            func.count().label("n"),
            func.count(Ticket.resolved_at).label("with_resolved_at"),
            # resolved_at is NULL: the comparison is not true, the ticket is not counted.
            func.count().filter(Ticket.resolved_at <= Ticket.resolve_by).label("in_time"),
        )
        .where(_in_period(period, unit_code, whole_index=_whole(dialect, period, unit_code)))
        .group_by(*keys)
    )
    if unit_code is not None or _long(period):
        return _index(dialect, query, "ix_tickets_stats_unit")
    return _index(dialect, query, "ix_tickets_stats_period")


def _open_late(
    dialect: str, period: Period, now: datetime, unit_code: str | None
) -> Select[str, int]:
    """Per unit, the open tickets past their deadline now (a few percent of the tickets): found
    by their status, not by reading the whole period again."""
    query = (
        select(Ticket.unit_code, func.count())
        .where(
            _in_period(period, unit_code),
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.resolve_by < now,
        )
        .group_by(Ticket.unit_code)
    )
    if unit_code is not None:
        return _index(dialect, query, "ix_tickets_stats_unit")  # (unit, status) leads
    return _index(dialect, query, "ix_tickets_status")  # (status, created_at) leads: 0005


def _by_unit(rows: Iterable[Any], open_late: dict[str, int]) -> dict[str, Counts]:
    sums: dict[str, dict[str, int]] = {}
    for row in rows:
        unit = sums.get(row.unit_code)
        if unit is None:
            unit = sums[row.unit_code] = dict.fromkeys(COUNTS, 0)
        n = int(row.n)
        unit["received"] += n
        if row.category in ADMINISTRATIVE:
            unit["administrative"] += n
        if row.status in RESOLVED_STATUSES:
            resolved, in_time = int(row.with_resolved_at), int(row.in_time)
            unit["resolved"] += resolved
            unit["on_time"] += in_time
            unit["late"] += resolved - in_time  # resolved_at > resolve_by (never NULL)
        if row.rating in RATINGS:
            unit[row.rating] += n
    for code, late in open_late.items():
        sums.setdefault(code, dict.fromkeys(COUNTS, 0))["late"] += late
    return {
        code: Counts(on_site=found["received"] - found["administrative"], **found)
        for code, found in sums.items()
    }


async def _unit_counts(
    db: Reader, period: Period, now: datetime, unit_code: str | None
) -> dict[str, Counts]:
    rows = (await db.execute(_groups(_dialect(db), period, unit_code))).all()
    late = (await db.execute(_open_late(_dialect(db), period, now, unit_code))).all()
    return _by_unit(rows, {code: int(n) for code, n in late})


async def _histogram(db: Reader, period: Period, unit_code: str | None) -> list[tuple[int, int]]:
    """(minutes to resolve, tickets), by minutes: the period's resolved tickets."""
    minute = Ticket.resolve_minutes
    dialect = _dialect(db)
    query = (
        select(minute, func.count())
        .where(
            _in_period(period, unit_code, whole_index=_whole(dialect, period, unit_code)),
            minute.is_not(None),
            Ticket.status.in_(RESOLVED_STATUSES),
        )
        .group_by(minute)
        .order_by(minute)
    )
    if unit_code is not None:
        name = "ix_tickets_stats_unit"
    elif _long(period):
        name = "ix_tickets_stats_resolve"
    else:
        name = "ix_tickets_stats_period"
    rows = await db.execute(_index(dialect, query, name))
    return [(int(m), int(n)) for m, n in rows if m is not None]


async def _resolve_times(
    db: Reader, period: Period, unit_code: str | None
) -> tuple[float | None, float | None]:
    """Median and 90th percentile of the time to resolve, in seconds (exact to the minute).
    PostgreSQL: ``percentile_cont`` over the integer minutes, both from one sort in memory
    (one row comes back). SQLite, which has none: the histogram, read here."""
    if _dialect(db) != "postgresql":
        return _quantiles(await _histogram(db, period, unit_code))
    # A year of minutes takes ~30 MB to sort: past the default work_mem (4 MB) PostgreSQL
    # sorts on disk. Raise it for this transaction only.
    await db.execute(text("SET LOCAL work_mem = '64MB'"))
    seqscan = None
    if _long(period):
        # A long period: read the minutes in their order from ix_tickets_stats_resolve (an
        # index-only scan), and the aggregate's own sort finds them sorted. The planner does
        # not count that sort and chose a sequential scan and a sort of every minute instead:
        # 289 against 132 ms for a year of a million tickets (bench/RESULTS.md). A short period
        # still reads its own range of ix_tickets_stats_period.
        seqscan = await db.scalar(text("SHOW enable_seqscan"))
        await db.execute(text("SET LOCAL enable_seqscan = off"))
    minute = Ticket.resolve_minutes
    both = func.percentile_cont(pg_array([0.5, 0.9]), type_=ARRAY(Float)).within_group(minute)
    found = await db.scalar(
        select(both).where(
            _in_period(period, unit_code),
            minute.is_not(None),
            Ticket.status.in_(RESOLVED_STATUSES),
        )
    )
    if seqscan is not None:  # the caller's transaction may go on: its plans as they were
        await db.execute(text("SELECT set_config('enable_seqscan', :was, true)"), {"was": seqscan})
    if not found or found[0] is None or found[1] is None:
        return None, None
    return float(found[0]) * 60.0, float(found[1]) * 60.0


def _quantiles(histogram: Sequence[tuple[int, int]]) -> tuple[float | None, float | None]:
    """Median and 90th percentile in seconds from a sorted histogram of minutes, interpolated
    between ranks as ``percentile_cont`` does."""
    count = sum(n for _, n in histogram)
    if count == 0:
        return None, None
    wanted = [ranks_needed(count, q) for q in (0.5, 0.9)]
    ranks = sorted({r for low, high, _ in wanted for r in (low, high)})
    found: dict[int, float] = {}
    before = 0
    for minutes, n in histogram:
        while ranks and ranks[0] < before + n:
            found[ranks.pop(0)] = minutes * 60.0
        if not ranks:
            break
        before += n
    median_s, p90_s = (found[low] + (found[high] - found[low]) * w for low, high, w in wanted)
    return median_s, p90_s


async def counts(db: Reader, period: Period, now: datetime, unit_code: str | None = None) -> Counts:
    units = await _unit_counts(db, period, now, unit_code)
    return total(UnitFigures(code, found) for code, found in units.items())


async def resolve_times(
    session: AsyncSession, period: Period, resolved: int = -1, unit_code: str | None = None
) -> tuple[float | None, float | None]:
    """Median and 90th percentile of the time to resolve, in seconds (exact to the minute);
    ``resolved == 0`` (nothing resolved, known from the counts) skips the query."""
    if resolved == 0:
        return None, None
    return await _resolve_times(session, period, unit_code)


async def summary(
    session: AsyncSession, period: Period, now: datetime, unit_code: str | None = None
) -> Summary:
    found = await counts(session, period, now, unit_code)
    median_s, p90_s = await resolve_times(session, period, found.resolved, unit_code)
    return Summary(found, median_s, p90_s)


async def ranking(db: Reader, period: Period, now: datetime) -> list[UnitFigures]:
    """Every unit with tickets received in the period, the worst on-time rate first."""
    units = await _unit_counts(db, period, now, None)
    return rank(UnitFigures(code, found) for code, found in units.items())


@dataclass(frozen=True)
class Overview:
    """What /stats shows: the figures of the city or of one unit, and the ranking."""

    summary: Summary
    ranking: list[UnitFigures]


def _engine_for_readers(session: AsyncSession) -> AsyncEngine | None:
    """The engine to open read connections on, when other connections see the same data (not
    an in-memory SQLite database, which is one connection's own)."""
    bind = session.bind
    if not isinstance(bind, AsyncEngine):
        return None
    if bind.dialect.name == "sqlite" and bind.url.database in (None, "", ":memory:"):
        return None
    return bind


@asynccontextmanager
async def reading(session: AsyncSession) -> AsyncIterator[Reader]:
    """Somewhere to read a long query (an export, statistics) without holding up the updates:
    a connection of its own (storage.db.read_connection: on SQLite no write lock, and not the
    one writing connection), or the session itself where there is none (in-memory SQLite)."""
    engine = _engine_for_readers(session)
    if engine is None:
        yield session
        return
    async with read_connection(engine) as connection:
        yield connection


async def overview(
    session: AsyncSession, period: Period, now: datetime, unit_code: str | None = None
) -> Overview:
    """The ranking (the city's counts are its sum) and the time to resolve, queried at the
    same time on two read connections; on the caller's session one after the other when
    there is no engine to open them on. Committed data only: statistics need no more."""
    engine = _engine_for_readers(session)
    if engine is None:
        units = await _unit_counts(session, period, now, None)
        times = await _resolve_times(session, period, unit_code)
    else:

        def reading(query: Callable[[AsyncConnection], Awaitable[_T]]) -> Awaitable[_T]:
            async def run() -> _T:
                async with read_connection(engine) as connection:
                    return await query(connection)

            return run()

        units, times = await asyncio.gather(
            reading(lambda c: _unit_counts(c, period, now, None)),
            reading(lambda c: _resolve_times(c, period, unit_code)),
        )
    if unit_code is None:
        found = total(UnitFigures(code, c) for code, c in units.items())
    else:
        found = units.get(unit_code, Counts())
    median_s, p90_s = times if found.resolved else (None, None)
    ranked = rank(UnitFigures(code, c) for code, c in units.items())
    return Overview(Summary(found, median_s, p90_s), ranked)


@dataclass(frozen=True)
class TicketRow:
    """A ticket as exported: no resident's personal data. No reporter, and no description,
    address or coordinates either: free text and a pin can name a person or their home."""

    number: str
    created_at: datetime
    category: str
    unit_code: str
    status: str
    priority: str
    resolve_by: datetime
    received_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    rating: str | None
    place_unit: str | None


EXPORT_COLUMNS = (
    Ticket.number,
    Ticket.created_at,
    Ticket.category,
    Ticket.unit_code,
    Ticket.status,
    Ticket.priority,
    Ticket.resolve_by,
    Ticket.received_at,
    Ticket.resolved_at,
    Ticket.closed_at,
    Ticket.rating,
    Ticket.place_unit,
)


async def export_rows(
    db: Reader, period: Period, unit_code: str | None = None, batch: int = 5000
) -> AsyncIterator[TicketRow]:
    """The tickets received in the period, oldest first, streamed in batches."""
    result = await db.stream(
        select(*EXPORT_COLUMNS)
        .where(_in_period(period, unit_code))
        .order_by(Ticket.created_at, Ticket.id)
        .execution_options(yield_per=batch)
    )
    async for row in result:
        yield TicketRow(**row._mapping)


async def status_of(session: AsyncSession, number: str) -> Sequence[Any] | None:
    """A ticket's status by its number (what the storage benchmark times)."""
    row = (
        await session.execute(
            select(Ticket.status, Ticket.unit_code, Ticket.resolve_by).where(
                Ticket.number == number
            )
        )
    ).first()
    return None if row is None else tuple(row)
