"""Statistics: the period a person types, and the figures on a known set of tickets whose
answers were worked out by hand (on SQLite and on PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.stats import (
    Counts,
    PeriodError,
    PeriodProblem,
    UnitFigures,
    days_hours,
    median,
    parse_period,
    percentile,
    place_of,
    placed,
    rank,
)
from storage import stats
from storage.db import make_engine, read_connection, session_factory
from storage.migrate import upgrade
from storage.models import Ticket, minutes_between
from storage.repo import Repository, UnitRow
from tests.backends import prepare

NOW = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)  # 12:00 in Hanoi


# -- periods ------------------------------------------------------------------------------------


def test_no_period_means_the_last_30_days() -> None:
    period = parse_period("", NOW)
    assert period.end == NOW and period.start == NOW - timedelta(days=30)
    assert period.days == 30


def test_a_number_means_that_many_days() -> None:
    period = parse_period(" 7 ", NOW)
    assert period.start == NOW - timedelta(days=7)
    assert period.last_day == date(2026, 11, 20)


def test_a_month_runs_from_midnight_to_midnight_in_hanoi() -> None:
    period = parse_period("2026-11", NOW)
    assert period.start == datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert (period.first_day, period.last_day) == (date(2026, 11, 1), date(2026, 11, 30))
    assert parse_period("2024-2", NOW).last_day == date(2024, 2, 29)


def test_a_year_and_a_range_of_days_include_their_last_day() -> None:
    year = parse_period("2025", NOW)
    assert (year.first_day, year.last_day) == (date(2025, 1, 1), date(2025, 12, 31))
    days = parse_period("2026-10-01 2026-10-31", NOW)
    assert days.end == datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
    assert days.label() == "01/10/2026 – 31/10/2026"


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("last week", PeriodProblem.FORMAT),
        ("2026/11", PeriodProblem.FORMAT),
        ("7 days", PeriodProblem.FORMAT),
        ("1 2 3", PeriodProblem.FORMAT),
        ("0", PeriodProblem.DAYS),
        ("99999", PeriodProblem.FORMAT),
        ("1000", PeriodProblem.DATE),
        ("2026-13", PeriodProblem.DATE),
        ("2026-02-30 2026-03-01", PeriodProblem.DATE),
        ("1900", PeriodProblem.DATE),
        # Days far off overflowed in the conversion to UTC: "something went wrong".
        ("9999-12-31", PeriodProblem.DATE),
        ("0001-01-01", PeriodProblem.DATE),
        ("2026-01-01 9999-12-31", PeriodProblem.DATE),
        ("2026-10-31 2026-10-01", PeriodProblem.ORDER),
        ("2027", PeriodProblem.FUTURE),
    ],
)
def test_a_period_that_cannot_be_read_says_why(typed: str, problem: PeriodProblem) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(typed, NOW)
    assert caught.value.problem is problem


# -- figures ------------------------------------------------------------------------------------


def test_percentiles_interpolate_like_percentile_cont() -> None:
    hours = [2, 5, 10, 20, 30, 40, 60, 100]
    assert median(hours) == 25
    assert percentile(hours, 0.9) == pytest.approx(72)
    assert percentile([7], 0.9) == 7
    assert median([]) is None


def test_durations_are_shown_in_days_and_hours() -> None:
    assert days_hours(25 * 3600) == (1, 1)
    assert days_hours(72 * 3600 + 1700) == (3, 0)


def _unit(code: str, on_time: int, late: int, received: int) -> UnitFigures:
    return UnitFigures(code, Counts(received=received, on_time=on_time, late=late))


def test_ranking_puts_the_worst_on_time_rate_first_and_more_late_first_on_a_tie() -> None:
    ranked = rank(
        [
            _unit("good", 9, 1, 10),
            _unit("nothing-due", 0, 0, 3),
            _unit("bad-small", 1, 1, 2),
            _unit("bad-big", 5, 5, 12),
            _unit("worst", 1, 3, 4),
        ]
    )
    assert [u.unit_code for u in ranked] == ["worst", "bad-big", "bad-small", "good", "nothing-due"]


def test_units_equal_on_rate_and_late_reports_share_a_place_and_the_next_place_skips() -> None:
    """Standard competition ranking (1, 1, 3): a unit is never placed below one it equals;
    more reports received only orders the tied units' lines."""
    ranked = rank(
        [
            _unit("perfect-small", 1, 0, 1),
            _unit("half-big", 5, 5, 10),
            _unit("perfect-big", 3, 0, 3),
            _unit("half-small", 1, 1, 2),
            _unit("nothing-due-a", 0, 0, 2),
            _unit("nothing-due-b", 0, 0, 1),
        ]
    )
    assert [(place, u.unit_code) for place, u in placed(ranked)] == [
        (1, "half-big"),
        (2, "half-small"),
        (3, "perfect-big"),
        (3, "perfect-small"),
        (5, "nothing-due-a"),
        (5, "nothing-due-b"),
    ]
    assert place_of(ranked, "perfect-small") == place_of(ranked, "perfect-big") == 3
    assert place_of(ranked, "elsewhere") is None


# -- the database -------------------------------------------------------------------------------


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def ticket(
    n: int,
    unit: str,
    category: str,
    created: datetime,
    due: datetime,
    status: str,
    hours: float | None = None,
    rating: str | None = None,
) -> Ticket:
    resolved = None if hours is None else created + timedelta(hours=hours)
    return Ticket(
        number=f"T{n:06d}",
        draft_key=f"d{n}",
        category=category,
        description="-",
        unit_code=unit,
        status=status,
        resolve_by=due,
        resolved_at=resolved,
        resolve_minutes=None if resolved is None else minutes_between(created, resolved),
        rating=rating,
        created_at=created,
        updated_at=created,
    )


# Worked out by hand, for November 2026 (Hanoi) asked on 20 November:
# A: 1-4 resolved (10, 20, 30 h on time; 60 h late), 5 open past due (late), 7 rejected.
# B: 8 on time (40 h), 9 late (100 h), 10 reopened past due (late, not resolved).
# C: 11 on time (5 h), 13 on time (2 h; 1 November 00:30 in Hanoi).
# E: 6 open, not due yet. 12 was received on 31 October in Hanoi: outside.
def known() -> list[Ticket]:
    return [
        ticket(1, "A", "roads", at(2), at(10), "closed", 10, "satisfied"),
        ticket(2, "A", "roads", at(3), at(5), "resolved", 20),
        ticket(3, "A", "procedure", at(4), at(6), "closed", 30, "acceptable"),
        ticket(4, "A", "roads", at(5), at(7), "closed", 60, "unsatisfied"),
        ticket(5, "A", "roads", at(10), at(12), "in_progress"),
        ticket(6, "E", "roads", at(15), at(25), "received"),
        ticket(7, "A", "conduct", at(16), at(26), "rejected"),
        ticket(8, "B", "lighting", at(2), at(4), "closed", 40, "satisfied"),
        ticket(9, "B", "lighting", at(6), at(8), "resolved", 100),
        ticket(10, "B", "lighting", at(7), at(9), "reopened", 24),
        ticket(11, "C", "waste", at(8), at(10), "resolved", 5),
        ticket(12, "C", "waste", datetime(2026, 10, 31, 16, tzinfo=UTC), at(3), "closed", 1),
        ticket(
            13,
            "C",
            "waste",
            datetime(2026, 10, 31, 17, 30, tzinfo=UTC),
            at(3),
            "closed",
            2,
            "satisfied",
        ),
    ]


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    backend = await prepare(tmp_path)
    engine = make_engine(backend.database_url)
    await upgrade(engine)
    async with session_factory(engine)() as s:
        await Repository(s).seed_units(UnitRow(c, "ward", c, c) for c in "ABCE")
        s.add_all(known())
        await s.commit()
        yield s
    await engine.dispose()


async def test_city_figures_count_what_was_received_in_the_month(session: AsyncSession) -> None:
    found = await stats.overview(session, parse_period("2026-11", NOW), NOW)
    assert found.summary.counts == Counts(
        received=12,
        on_site=10,
        administrative=2,
        resolved=8,
        on_time=6,
        late=4,
        satisfied=3,
        acceptable=1,
        unsatisfied=1,
    )
    assert found.summary.counts.on_time_rate == pytest.approx(60.0)
    assert found.summary.median_seconds == pytest.approx(25 * 3600, abs=1)
    assert found.summary.p90_seconds == pytest.approx(72 * 3600, abs=1)


async def test_ranking_lists_the_worst_on_time_rate_first(session: AsyncSession) -> None:
    ranking = await stats.ranking(session, parse_period("2026-11", NOW), NOW)
    assert [(f.unit_code, f.counts.on_time, f.counts.late) for f in ranking] == [
        ("B", 1, 2),
        ("A", 3, 2),
        ("C", 2, 0),
        ("E", 0, 0),
    ]


async def test_a_unit_sees_its_own_figures_and_place(session: AsyncSession) -> None:
    found = await stats.overview(session, parse_period("2026-11", NOW), NOW, "A")
    counts = found.summary.counts
    assert (counts.received, counts.administrative, counts.resolved) == (6, 2, 4)
    assert (counts.on_time, counts.late) == (3, 2)
    assert found.summary.median_seconds == pytest.approx(25 * 3600, abs=1)
    assert found.summary.p90_seconds == pytest.approx(51 * 3600, abs=1)
    assert [f.unit_code for f in found.ranking].index("A") == 1


async def test_the_same_counts_as_a_per_unit_query(session: AsyncSession) -> None:
    period = parse_period("2026-11", NOW)
    for code in "ABCE":
        direct = await stats.counts(session, period, NOW, code)
        ranked = next(
            f.counts for f in await stats.ranking(session, period, NOW) if f.unit_code == code
        )
        assert direct == ranked


async def test_a_period_with_nothing_received_is_all_zero(session: AsyncSession) -> None:
    found = await stats.overview(session, parse_period("2026-09", NOW), NOW)
    assert found.summary.counts == Counts()
    assert found.summary.median_seconds is None and found.ranking == []


async def test_export_rows_carry_no_personal_data(session: AsyncSession) -> None:
    rows = [r async for r in stats.export_rows(session, parse_period("2026-11", NOW), "C")]
    assert [r.number for r in rows] == ["T000013", "T000011"]
    assert not {"description", "reporter_id", "address", "latitude"} & set(vars(rows[0]))


async def test_a_reopened_ticket_counts_the_time_to_its_last_resolution(
    session: AsyncSession,
) -> None:
    repo = Repository(session)
    created = at(12)
    ticket_ = ticket(20, "A", "roads", created, at(16), "in_progress")
    session.add(ticket_)
    await session.commit()

    assert await repo.change_status(
        ticket_, "in_progress", "resolved", None, now=created + timedelta(hours=3, seconds=29)
    )
    assert ticket_.resolve_minutes == 180  # 29 s rounds down
    assert await repo.change_status(ticket_, "resolved", "reopened", None, now=at(13))
    assert ticket_.resolved_at is None and ticket_.resolve_minutes is None
    assert await repo.change_status(
        ticket_, "reopened", "resolved", None, now=created + timedelta(hours=30, seconds=30)
    )
    await session.commit()
    assert ticket_.resolve_minutes == 30 * 60 + 1  # half a minute rounds up

    period = parse_period("2026-11-12", NOW)
    found = await stats.overview(session, period, NOW, "A")
    assert found.summary.counts.resolved == 1
    assert found.summary.median_seconds == pytest.approx((30 * 60 + 1) * 60)


async def test_a_report_is_saved_while_statistics_are_being_read(session: AsyncSession) -> None:
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    before = int(await session.scalar(select(func.count()).select_from(Ticket)) or 0)
    await session.rollback()  # its own BEGIN IMMEDIATE would hold the lock
    async with read_connection(engine) as reading:
        await reading.scalar(select(func.count()).select_from(Ticket))
        # The reader's transaction is still open: on SQLite it holds no write lock, so the
        # writer commits at once (were it BEGIN IMMEDIATE, the writer would fail: locked).
        async with session_factory(engine)() as writer:
            writer.add(ticket(30, "A", "roads", at(12), at(16), "received"))
            await writer.commit()
    assert await session.scalar(select(func.count()).select_from(Ticket)) == before + 1


async def test_a_years_percentiles_leave_the_callers_planner_settings_as_they_were(
    session: AsyncSession,
) -> None:
    """On PostgreSQL a long period's percentiles are read with sequential scans off (the
    minutes come in order from their index); the caller's transaction gets them back on."""
    if session.bind.dialect.name != "postgresql":  # type: ignore[union-attr]
        pytest.skip("PostgreSQL's planner settings; SQLite reads its histogram")
    year = parse_period("2026", NOW)
    median_s, p90_s = await stats.resolve_times(session, year)
    assert median_s is not None and p90_s is not None and median_s <= p90_s
    assert await session.scalar(select(func.current_setting("enable_seqscan"))) == "on"
