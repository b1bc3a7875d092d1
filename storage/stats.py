"""The statistics queries: counting and grouping happen in the database, never in Python over
every ticket, so a year of a big city (a million tickets) answers in well under a second.

Definitions are in ``domain/stats.py``. Percentiles of the time to resolve: PostgreSQL's
``percentile_cont``; on SQLite, which has none, a histogram of the durations to the minute and a
running sum over it find the ranks each quantile needs, interpolated as ``percentile_cont`` does
(exact to the minute).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Float, Integer, and_, cast, func, or_, select, text
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.ext.asyncio import AsyncSession

from domain import categories
from domain.categories import Group
from domain.lifecycle import OPEN, Status
from domain.stats import Counts, Period, Summary, UnitFigures, rank, ranks_needed, total
from storage.models import Ticket

ADMINISTRATIVE = tuple(c.code for c in categories.CATEGORIES if c.group is Group.ADMINISTRATIVE)
OPEN_STATUSES = tuple(sorted(str(s) for s in OPEN))
RESOLVED_STATUSES = (str(Status.RESOLVED), str(Status.CLOSED))


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _in_period(period: Period, unit_code: str | None) -> ColumnElement[bool]:
    condition = and_(Ticket.created_at >= period.start, Ticket.created_at < period.end)
    if unit_code is not None:
        condition = and_(Ticket.unit_code == unit_code, condition)
    return condition


def _resolved() -> ColumnElement[bool]:
    return and_(Ticket.resolved_at.is_not(None), Ticket.status.in_(RESOLVED_STATUSES))


def _count(condition: ColumnElement[bool]) -> Any:
    # count(*) FILTER (WHERE ...): PostgreSQL, and SQLite since 3.30; cheaper than sum(CASE).
    return func.count().filter(condition)


def _count_columns(now: datetime) -> list[Any]:
    resolved = _resolved()
    return [
        func.count().label("received"),
        _count(Ticket.category.in_(ADMINISTRATIVE)).label("administrative"),
        _count(resolved).label("resolved"),
        _count(and_(resolved, Ticket.resolved_at <= Ticket.resolve_by)).label("on_time"),
        _count(
            or_(
                and_(resolved, Ticket.resolved_at > Ticket.resolve_by),
                and_(Ticket.status.in_(OPEN_STATUSES), Ticket.resolve_by < now),
            )
        ).label("late"),
        _count(Ticket.rating == "satisfied").label("satisfied"),
        _count(Ticket.rating == "acceptable").label("acceptable"),
        _count(Ticket.rating == "unsatisfied").label("unsatisfied"),
    ]


def _counts(row: Any) -> Counts:
    received = int(row.received or 0)
    administrative = int(row.administrative or 0)
    return Counts(
        received=received,
        on_site=received - administrative,
        administrative=administrative,
        resolved=int(row.resolved or 0),
        on_time=int(row.on_time or 0),
        late=int(row.late or 0),
        satisfied=int(row.satisfied or 0),
        acceptable=int(row.acceptable or 0),
        unsatisfied=int(row.unsatisfied or 0),
    )


def _duration_seconds(dialect: str) -> Any:
    if dialect == "postgresql":
        return func.extract("epoch", Ticket.resolved_at - Ticket.created_at)
    # SQLite keeps these as ISO text in UTC; julianday() reads it (days, with fractions).
    return (func.julianday(Ticket.resolved_at) - func.julianday(Ticket.created_at)) * 86400.0


async def counts(
    session: AsyncSession, period: Period, now: datetime, unit_code: str | None = None
) -> Counts:
    row = (
        await session.execute(select(*_count_columns(now)).where(_in_period(period, unit_code)))
    ).one()
    return _counts(row)


async def resolve_times(
    session: AsyncSession, period: Period, resolved: int, unit_code: str | None = None
) -> tuple[float | None, float | None]:
    """Median and 90th percentile of the time to resolve, in seconds."""
    if resolved == 0:
        return None, None
    dialect = _dialect(session)
    duration = _duration_seconds(dialect)
    where = and_(_in_period(period, unit_code), _resolved())
    if dialect == "postgresql":
        # A year's durations take ~30 MB to sort: past the default work_mem (4 MB) PostgreSQL
        # sorts on disk. Raise it for this transaction only.
        await session.execute(text("SET LOCAL work_mem = '64MB'"))
        # Both quantiles from one sort: percentile_cont over an array of fractions.
        both = func.percentile_cont(pg_array([0.5, 0.9]), type_=ARRAY(Float)).within_group(duration)
        found = await session.scalar(select(both).where(where))
        if not found or found[0] is None or found[1] is None:
            return None, None
        return float(found[0]), float(found[1])
    # SQLite: one pass makes a histogram of the durations rounded to the minute, and a
    # running sum over it finds the minutes that hold the ranks each quantile needs. Exact to
    # the minute (the answer shows hours), with no sort of every row by its duration.
    quantiles = [ranks_needed(resolved, q) for q in (0.5, 0.9)]
    minute = cast(duration / 60.0 + 0.5, Integer).label("minute")
    histogram = select(minute, func.count().label("n")).where(where).group_by(minute).subquery()
    before = (func.sum(histogram.c.n).over(order_by=histogram.c.minute) - histogram.c.n).label(
        "before"
    )
    running = select(histogram.c.minute, histogram.c.n, before).subquery()
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
    query = (
        select(Ticket.unit_code, *_count_columns(now))
        .where(_in_period(period, None))
        .group_by(Ticket.unit_code)
    )
    if _dialect(session) == "sqlite":
        # Read in unit order from the covering index: SQLite groups as it goes, instead of
        # sorting every row of the period (its GROUP BY has no hash aggregation).
        query = query.with_hint(Ticket, "INDEXED BY ix_tickets_stats_unit", "sqlite")
    rows = await session.execute(query)
    return rank(UnitFigures(row.unit_code, _counts(row)) for row in rows)


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
