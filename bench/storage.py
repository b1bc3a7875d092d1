"""3. Storage with a year of a big city: 1,000,000 tickets made by ``python -m bot seed``'s
generator, on SQLite and on PostgreSQL.

Figures, each through the project's own code (SQLAlchemy async sessions, storage/stats.py):
- a ticket's status by its number, 2,000 random numbers one at a time: the 99th percentile
  (target < 2 ms); baseline: the same lookups with the index not used (SQLite ``NOT INDEXED``,
  PostgreSQL with index scans switched off), i.e. a scan of the table, on 20 numbers;
- a year's statistics for the whole city, as /stats shows them (counts, on-time rate, median
  and 90th percentile of the time to resolve; the median of 5 runs; target < 500 ms);
- the per-unit ranking for the year (the median of 5 runs; target < 500 ms).
The baseline of both is the same figures computed in Python over the year's rows loaded from
the database (what the queries replace), timed once.

The seeded databases are kept between runs (``var/bench/`` for SQLite, the ``phananh_bench``
database next to BENCH_POSTGRES_URL's) and seeded again only when their ticket count differs:
seeding a million tickets takes minutes. ``--quick`` uses 20,000 tickets. Timings are wall
time on a shared machine: the detail column gives the process's CPU time and the load average.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.postgres import own_database
from bench.table import Result
from bot.seed import seed
from domain import categories
from domain.categories import Group
from domain.lifecycle import OPEN
from domain.stats import Counts, Period, UnitFigures, parse_period, percentile, rank, total
from storage import stats
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.models import Ticket

FULL, QUICK = 1_000_000, 20_000
LOOKUPS, SCANS, RUNS = 2_000, 20, 5
STATUS_TARGET_MS, STATS_TARGET_MS = 2.0, 500.0
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
BENCH_DATABASE = "phananh_bench"
SQLITE_DIR = Path(os.environ.get("BENCH_DATA_DIR", "var/bench"))


def _load() -> str:
    one, _, _ = os.getloadavg()
    return f"load avg {one:.1f} on {os.cpu_count()} cores"


async def _postgres_url() -> str | None:
    """The benchmark's own database beside BENCH_POSTGRES_URL's (created when missing), so the
    test suite, which resets its database, and the benchmark never meet; None if unreachable."""
    try:
        return await own_database(POSTGRES_URL, BENCH_DATABASE)
    except (OSError, TimeoutError) as error:
        print(f"[storage] PostgreSQL skipped: {error.__class__.__name__}: {error}")
        return None


async def _analyze(engine: AsyncEngine) -> None:
    """Fresh planner statistics; on PostgreSQL also the visibility map index-only scans need."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE tickets")
        else:
            await conn.exec_driver_sql("ANALYZE")
            await conn.commit()


async def _ready(engine: AsyncEngine, tickets: int) -> None:
    """Seed the database unless it already holds exactly ``tickets`` tickets; a database seeded
    before a migration is brought forward by it (migrations fill in what they add)."""
    try:
        async with engine.connect() as conn:
            await conn.scalar(select(func.count()).select_from(Ticket).limit(1))
        seeded = True
    except Exception:  # no schema yet: seed() migrates
        seeded = False
    if seeded:
        started = time.perf_counter()
        outcome = await upgrade(engine)
        if outcome.changed:
            await _analyze(engine)
            print(
                f"[storage] migrated {outcome.before} -> {outcome.after} "
                f"in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
    try:
        async with engine.connect() as conn:
            have = int(await conn.scalar(select(func.count()).select_from(Ticket)) or 0)
    except Exception:  # no schema yet: seed() migrates
        have = -1
    if have == tickets:
        return
    if have > 0:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM ticket_events"))
            await conn.execute(text("DELETE FROM tickets"))
            await conn.execute(text("DELETE FROM residents"))
    print(f"[storage] seeding {tickets:,} tickets on {engine.dialect.name}...", flush=True)
    report = await seed(engine, tickets)
    print(f"[storage] seeded in {report.seconds:.0f} s", flush=True)
    if engine.dialect.name == "postgresql":
        await _analyze(engine)


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def _status_lookups(session: AsyncSession, numbers: list[str]) -> list[float]:
    times = []
    for number in numbers:
        times.append(await _timed(lambda n=number: stats.status_of(session, n)))  # type: ignore[misc]
    return times


async def _scan_lookups(session: AsyncSession, numbers: list[str], dialect: str) -> list[float]:
    """The same lookup with the index not used: a scan of the table per number."""
    if dialect == "postgresql":
        for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
            await session.execute(text(f"SET LOCAL {setting} = off"))
        query = text("SELECT status, unit_code, resolve_by FROM tickets WHERE number = :n")
    else:
        query = text(
            "SELECT status, unit_code, resolve_by FROM tickets NOT INDEXED WHERE number = :n"
        )
    times = []
    for number in numbers:
        started = time.perf_counter()
        (await session.execute(query, {"n": number})).first()
        times.append((time.perf_counter() - started) * 1000)
    await session.rollback()
    return times


async def _in_python(session: AsyncSession, period: Period, now: datetime) -> float:
    """The baseline: load the period's rows and compute the same figures in Python."""
    started = time.perf_counter()
    rows = (
        await session.execute(
            select(
                Ticket.unit_code,
                Ticket.category,
                Ticket.status,
                Ticket.resolve_by,
                Ticket.resolved_at,
                Ticket.rating,
                Ticket.created_at,
            ).where(Ticket.created_at >= period.start, Ticket.created_at < period.end)
        )
    ).all()
    administrative = {c.code for c in categories.CATEGORIES if c.group is Group.ADMINISTRATIVE}
    open_statuses = {str(s) for s in OPEN}
    per_unit: dict[str, dict[str, int]] = {}
    durations: list[float] = []
    for unit, category, status, due, resolved_at, rating, created in rows:
        c = per_unit.setdefault(
            unit,
            dict.fromkeys(
                (
                    "received",
                    "administrative",
                    "resolved",
                    "on_time",
                    "late",
                    "satisfied",
                    "acceptable",
                    "unsatisfied",
                ),
                0,
            ),
        )
        c["received"] += 1
        c["administrative"] += category in administrative
        if resolved_at is not None and status in ("resolved", "closed"):
            c["resolved"] += 1
            durations.append((resolved_at - created).total_seconds())
            if resolved_at <= due:
                c["on_time"] += 1
            else:
                c["late"] += 1
        elif status in open_statuses and due is not None and due < now:
            c["late"] += 1
        if rating in ("satisfied", "acceptable", "unsatisfied"):
            c[rating] += 1
    figures = [
        UnitFigures(unit, Counts(on_site=c["received"] - c["administrative"], **c))
        for unit, c in per_unit.items()
    ]
    rank(figures)
    total(figures)
    percentile(durations, 0.5)
    percentile(durations, 0.9)
    return (time.perf_counter() - started) * 1000


async def _backend(name: str, url: str, tickets: int) -> list[Result]:
    engine = make_engine(url)
    try:
        await _ready(engine, tickets)
        now = datetime.now(UTC)
        period = parse_period("365", now)
        sessions = session_factory(engine)
        async with sessions() as session:
            numbers = list((await session.scalars(select(Ticket.number))).all())
        rng = random.Random(3)
        sample = rng.sample(numbers, min(LOOKUPS, len(numbers)))
        async with sessions() as session:
            await _status_lookups(session, sample[:100])  # warm the pool and the cache
            lookup_ms = await _status_lookups(session, sample)
        async with sessions() as session:
            scan_ms = await _scan_lookups(session, sample[:SCANS], engine.dialect.name)
        year_ms: list[float] = []
        rank_ms: list[float] = []
        cpu_year: list[float] = []
        async with sessions() as session:
            await stats.overview(session, period, now)  # warm
            for _ in range(RUNS):
                cpu = time.process_time()
                year_ms.append(await _timed(lambda: stats.overview(session, period, now)))
                cpu_year.append((time.process_time() - cpu) * 1000)
                rank_ms.append(await _timed(lambda: stats.ranking(session, period, now)))
            python_ms = await _in_python(session, period, now)
    finally:
        await engine.dispose()
    p99 = percentile(lookup_ms, 0.99) or 0.0
    scan_p99 = percentile(scan_ms, 0.99) or 0.0
    year, ranking = statistics.median(year_ms), statistics.median(rank_ms)
    where = f"{name}, {tickets:,} tickets"
    return [
        Result(
            f"3. status by number, p99 ({where})",
            p99,
            "ms",
            scan_p99,
            "no index: table scan",
            f"< {STATUS_TARGET_MS:g} ms",
            p99 < STATUS_TARGET_MS,
            f"median {statistics.median(lookup_ms):.2f} ms over {len(lookup_ms):,}; {_load()}",
        ),
        Result(
            f"3. a year's city statistics ({where})",
            year,
            "ms",
            python_ms,
            "rows loaded into Python",
            f"< {STATS_TARGET_MS:g} ms",
            year < STATS_TARGET_MS,
            f"median of {RUNS}; process CPU {statistics.median(cpu_year):.0f} ms; {_load()}",
        ),
        Result(
            f"3. a year's per-unit ranking ({where})",
            ranking,
            "ms",
            python_ms,
            "rows loaded into Python",
            f"< {STATS_TARGET_MS:g} ms",
            ranking < STATS_TARGET_MS,
            f"median of {RUNS}; {_load()}",
        ),
    ]


async def _run(quick: bool) -> list[Result]:
    tickets = QUICK if quick else FULL
    sqlite_url = f"sqlite+aiosqlite:///{SQLITE_DIR / f'storage-{tickets}.sqlite3'}"
    results = await _backend("SQLite", sqlite_url, tickets)
    pg = await _postgres_url()
    if pg is not None:
        results += await _backend("PostgreSQL", pg, tickets)
    return results


def run(quick: bool) -> list[Result]:
    SQLITE_DIR.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_run(quick))
