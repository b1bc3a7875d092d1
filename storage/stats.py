"""The statistics queries: counting and grouping happen in the database, never in Python over
every ticket, so a year of a big city (a million tickets) answers in well under a second.

Definitions are in ``domain/stats.py``. Two queries answer /stats, on SQLite and PostgreSQL alike:

- the counts, grouped by unit, status, category and rating (a few thousand groups for a year),
  summed here into each unit's figures; the city's are the sum of its units'. Each row costs
  three comparisons, no arithmetic on timestamps;
- the percentiles of the time to resolve from a histogram of ``Ticket.resolve_minutes`` (the
  minutes to resolve, kept by ``Repository.change_status``) and a running sum over it that
  finds the ranks each quantile needs, interpolated as ``percentile_cont`` does: exact to the
  minute, with no sort of every resolved ticket.

On SQLite, which has no hash aggregation, a GROUP BY is cheap only when it reads an index in
the order of the groups: a long period reads ``ix_tickets_stats_unit`` (unit, status,
category, rating first) and ``ix_tickets_stats_resolve`` (by ``resolve_minutes``), a short one
reads its own range of ``ix_tickets_stats_period`` and sorts that (migration 0004).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, Table, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
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
from storage.models import Ticket

ADMINISTRATIVE = frozenset(c.code for c in categories.CATEGORIES if c.group is Group.ADMINISTRATIVE)
OPEN_STATUSES = frozenset(str(s) for s in OPEN)
RESOLVED_STATUSES = (str(Status.RESOLVED), str(Status.CLOSED))
# On SQLite, a period longer than this reads the whole of an index in the order of the groups;
# a shorter one reads only its own range (by created_at) and sorts it.
LONG_PERIOD = timedelta(days=62)
_Query = TypeVar("_Query", bound=HasHints)


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _in_period(period: Period, unit_code: str | None) -> ColumnElement[bool]:
    condition = and_(Ticket.created_at >= period.start, Ticket.created_at < period.end)
    if unit_code is not None:
        condition = and_(Ticket.unit_code == unit_code, condition)
    return condition


def _index(session: AsyncSession, query: _Query, name: str) -> _Query:
    """On SQLite, read the named index: the planner, from its statistics (or none, before an
    ANALYZE), may sort a year of rows by created_at's index where another groups in order."""
    if _dialect(session) != "sqlite":
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


def _groups(
    session: AsyncSession, period: Period, now: datetime, unit_code: str | None
) -> Select[*tuple[Any, ...]]:
    """The period's tickets counted by unit, status, category and rating. Within a group:
    how many have resolved_at, how many were resolved by their deadline, how many are past it
    now. Whether a group counts as resolved, open, administrative or rated is decided here in
    Python, once a group instead of once a ticket."""
    keys = (Ticket.unit_code, Ticket.status, Ticket.category, Ticket.rating)
    query = (
        select(
            *keys,
            func.count().label("n"),
            func.count(Ticket.resolved_at).label("with_resolved_at"),
            # resolved_at is NULL: the comparison is not true, the ticket is not counted.
            func.count().filter(Ticket.resolved_at <= Ticket.resolve_by).label("in_time"),
            func.count().filter(Ticket.resolve_by < now).label("past_due"),
        )
        .where(_in_period(period, unit_code))
        .group_by(*keys)
    )
    if unit_code is not None or period.end - period.start > LONG_PERIOD:
        return _index(session, query, "ix_tickets_stats_unit")
    return _index(session, query, "ix_tickets_stats_period")


def _add(sums: dict[str, int], row: Any) -> None:
    n = int(row.n)
    sums["received"] += n
    if row.category in ADMINISTRATIVE:
        sums["administrative"] += n
    if row.status in RESOLVED_STATUSES:
        resolved, in_time = int(row.with_resolved_at), int(row.in_time)
        sums["resolved"] += resolved
        sums["on_time"] += in_time
        sums["late"] += resolved - in_time  # resolved_at > resolve_by (never NULL)
    elif row.status in OPEN_STATUSES:
        sums["late"] += int(row.past_due)
    if row.rating in RATINGS:
        sums[row.rating] += n


def _by_unit(rows: Iterable[Any]) -> dict[str, Counts]:
    names = (
        "received",
        "administrative",
        "resolved",
        "on_time",
        "late",
        "satisfied",
        "acceptable",
        "unsatisfied",
    )
    sums: dict[str, dict[str, int]] = {}
    for row in rows:
        unit = sums.get(row.unit_code)
        if unit is None:
            unit = sums[row.unit_code] = dict.fromkeys(names, 0)
        _add(unit, row)
    return {
        code: Counts(on_site=found["received"] - found["administrative"], **found)
        for code, found in sums.items()
    }


async def counts(
    session: AsyncSession, period: Period, now: datetime, unit_code: str | None = None
) -> Counts:
    rows = await session.execute(_groups(session, period, now, unit_code))
    units = _by_unit(rows)
    return total(UnitFigures(code, found) for code, found in units.items())


async def resolve_times(
    session: AsyncSession, period: Period, resolved: int, unit_code: str | None = None
) -> tuple[float | None, float | None]:
    """Median and 90th percentile of the time to resolve, in seconds (exact to the minute).

    One pass makes a histogram of ``resolve_minutes``; a running sum over it (a window over a
    few thousand minutes, not over the tickets) finds the minutes that hold the ranks each
    quantile needs. ``resolved`` is the count of resolved tickets the ranks are taken from."""
    if resolved == 0:
        return None, None
    minute = Ticket.resolve_minutes.label("minute")
    query = (
        select(minute, func.count().label("n"))
        .where(
            _in_period(period, unit_code),
            Ticket.resolve_minutes.is_not(None),
            Ticket.status.in_(RESOLVED_STATUSES),
        )
        .group_by(minute)
    )
    if unit_code is not None:
        query = _index(session, query, "ix_tickets_stats_unit")
    elif period.end - period.start > LONG_PERIOD:
        query = _index(session, query, "ix_tickets_stats_resolve")
    else:
        query = _index(session, query, "ix_tickets_stats_period")
    histogram = query.subquery()
    before = (func.sum(histogram.c.n).over(order_by=histogram.c.minute) - histogram.c.n).label(
        "before"
    )
    running = select(histogram.c.minute, histogram.c.n, before).subquery()
    quantiles = [ranks_needed(resolved, q) for q in (0.5, 0.9)]
    ranks = sorted({rank for low, high, _ in quantiles for rank in (low, high)})
    rows = (
        await session.execute(
            select(running.c.minute, running.c.n, running.c.before).where(
                or_(
                    *(
                        and_(running.c.before <= rank, running.c.before + running.c.n > rank)
                        for rank in ranks
                    )
                )
            )
        )
    ).all()

    def value(rank: int) -> float | None:
        for row in rows:
            if row.before <= rank < row.before + row.n:
                return float(row.minute) * 60.0
        return None  # the tickets changed between the two queries

    results: list[float | None] = []
    for low, high, weight in quantiles:
        first, second = value(low), value(high)
        if first is None or second is None:
            return None, None
        results.append(first + (second - first) * weight)
    return results[0], results[1]


async def summary(
    session: AsyncSession, period: Period, now: datetime, unit_code: str | None = None
) -> Summary:
    found = await counts(session, period, now, unit_code)
    median_s, p90_s = await resolve_times(session, period, found.resolved, unit_code)
    return Summary(found, median_s, p90_s)


async def ranking(session: AsyncSession, period: Period, now: datetime) -> list[UnitFigures]:
    """Every unit with tickets received in the period, the worst on-time rate first."""
    rows = await session.execute(_groups(session, period, now, None))
    return rank(UnitFigures(code, found) for code, found in _by_unit(rows).items())


@dataclass(frozen=True)
class Overview:
    """What /stats shows: the figures of the city or of one unit, and the ranking."""

    summary: Summary
    ranking: list[UnitFigures]


async def overview(
    session: AsyncSession, period: Period, now: datetime, unit_code: str | None = None
) -> Overview:
    """One pass for the ranking (the city's counts are its sum), then the percentiles."""
    units = await ranking(session, period, now)
    if unit_code is None:
        found = total(units)
    else:
        found = next((f.counts for f in units if f.unit_code == unit_code), Counts())
    median_s, p90_s = await resolve_times(session, period, found.resolved, unit_code)
    return Overview(Summary(found, median_s, p90_s), units)


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
    session: AsyncSession, period: Period, unit_code: str | None = None, batch: int = 5000
) -> AsyncIterator[TicketRow]:
    """The tickets received in the period, oldest first, streamed in batches."""
    result = await session.stream(
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
