from datetime import UTC, datetime

import pytest

from domain.deadlines import HANOI, add_working_hours, receive_by, resolve_by


def hanoi(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HANOI)


def test_report_on_monday_morning_is_due_the_same_afternoon() -> None:
    # 2026-11-30 is a Monday. 09:00 + 8 working hours with a lunch break -> Tuesday 09:00.
    assert receive_by(hanoi(2026, 11, 30, 9, 0)) == hanoi(2026, 12, 1, 9, 0).astimezone(UTC)


def test_report_on_friday_afternoon_runs_over_the_weekend() -> None:
    # Friday 2026-12-04 16:00: one hour left that day, the other seven on Monday.
    due = add_working_hours(hanoi(2026, 12, 4, 16, 0), 8)
    assert due.astimezone(HANOI) == hanoi(2026, 12, 7, 16, 0)


def test_report_in_the_night_starts_counting_at_eight() -> None:
    due = add_working_hours(hanoi(2026, 12, 1, 22, 30), 4)
    assert due.astimezone(HANOI) == hanoi(2026, 12, 2, 12, 0)


def test_lunch_break_is_not_counted() -> None:
    due = add_working_hours(hanoi(2026, 12, 1, 11, 0), 2)
    assert due.astimezone(HANOI) == hanoi(2026, 12, 1, 14, 0)


def test_resolution_deadline_counts_working_days_of_the_category() -> None:
    # Waste: 3 working days from Wednesday 10:00 -> Monday 10:00.
    due = resolve_by(hanoi(2026, 12, 2, 10, 0), "waste")
    assert due.astimezone(HANOI) == hanoi(2026, 12, 7, 10, 0)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        add_working_hours(datetime(2026, 12, 1, 9), 1)
